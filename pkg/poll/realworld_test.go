package poll_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/poll"
)

const musicMapping = `version: 1
source:
  table: Music
  key: [Artist, SongTitle]
tables:
  - name: songs
    primary_key: [artist, song_title]
    columns:
      - {name: artist,     from: Artist,     type: text}
      - {name: song_title, from: SongTitle,  type: text}
      - {name: album,      from: AlbumTitle, type: text}
      - {name: awards,     from: Awards,     type: integer}
`

// Genuine Streams API responses (testdata/real-world/streams-api, from the
// AWS CLI's examples): a DescribeStream with a closed parent whose starting
// and ending sequence numbers are equal and its open child, and a GetRecords
// page of two INSERTs and a MODIFY (ApproximateCreationDateTime as an epoch
// float), read by the poller in lineage order and applied.
func TestRealWorldStreamsResponses(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "real-world", "streams-api")
	describe, err := os.ReadFile(filepath.Join(dir, "awscli-describe-stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	records, err := os.ReadFile(filepath.Join(dir, "awscli-get-records.json"))
	if err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mp, []byte(musicMapping), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := mapping.Load(mp)
	if err != nil {
		t.Fatal(err)
	}
	target := newPG(t, m, nil)
	d := newStreamsDouble(t)
	arn := "arn:aws:dynamodb:us-west-1:123456789012:table/Music/stream/2019-10-22T18:02:01.576"
	d.set(func(d *streamsDouble) { d.table = "Music" })
	d.newStream(arn)
	d.addShard(arn, "shardId-00000001571767321804-697ce3d2", "")
	d.closeShard(arn, "shardId-00000001571767321804-697ce3d2", true)
	d.addShard(arn, "shardId-00000001571780995058-40810d86", "shardId-00000001571767321804-697ce3d2")
	d.set(func(d *streamsDouble) {
		d.raw["DescribeStream"] = [][]byte{describe}
		d.raw["GetRecords"] = [][]byte{records}
	})
	st, err := poll.Run(context.Background(), poll.Config{Streams: d.streamsClient(), StreamARN: arn, Engine: target.eng,
		DB: target.pool, Ledger: target.led, UntilIdle: 300 * time.Millisecond,
		PollInterval: 20 * time.Millisecond, MinReadInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 3 || st.Applied != 3 || st.Rejected != 0 {
		t.Errorf("%+v", st)
	}
	var album string
	var awards int
	if err := target.pool.QueryRow(context.Background(), `SELECT album, awards FROM songs
		WHERE artist = 'Acme Band' AND song_title = 'Happy Day'`).Scan(&album, &awards); err != nil || album != "Updated Album Title" || awards != 10 {
		t.Errorf("Happy Day: %q %d %v", album, awards, err)
	}
	d.set(func(d *streamsDouble) {
		if len(d.asked) == 0 || d.asked[0] != "shardId-00000001571767321804-697ce3d2" {
			t.Errorf("GetRecords on %v: the closed parent first", d.asked)
		}
	})
}
