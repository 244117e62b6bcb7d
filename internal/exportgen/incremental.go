package exportgen

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// Change is one line of an incremental export: an item's change written at
// WriteTime. NewImage nil is a delete (AWS then writes only Keys and
// OldImage); OldImage nil with a NewImage is an insert.
type Change struct {
	Keys      ddbitem.Item
	NewImage  ddbitem.Item
	OldImage  ddbitem.Item
	WriteTime time.Time
}

// WriteIncrementalExport writes an incremental export (exportType
// INCREMENTAL_EXPORT, manifest version 2023-08-01, exportFromTime /
// exportToTime, outputView NEW_AND_OLD_IMAGES) of the window [from, to)
// holding changes, in the order given, as AWS writes one: each line is
// {"Metadata":{"WriteTimestampMicros":{"N":…}},"Keys":…,"OldImage":…,"NewImage":…}.
// opts.ExportTime is ignored (the id derives from to). Only DYNAMODB_JSON.
func WriteIncrementalExport(dir string, opts ExportOptions, from, to time.Time, changes []Change) (*Written, error) {
	if opts.Format != "" && opts.Format != "DYNAMODB_JSON" {
		return nil, fmt.Errorf("incremental exports are written as DYNAMODB_JSON only, not %q", opts.Format)
	}
	opts.ExportTime = to
	lines := make([][]byte, 0, len(changes))
	for i, c := range changes {
		b, err := changeLine(c)
		if err != nil {
			return nil, fmt.Errorf("change %d: %w", i, err)
		}
		lines = append(lines, b)
	}
	w, err := WriteExportFromLines(dir, opts, func(yield func([]byte) bool) {
		for _, b := range lines {
			if !yield(b) {
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	// Turn the full export's summary into an incremental one.
	p := filepath.Join(w.Folder, "manifest-summary.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var sum map[string]any
	if err := json.Unmarshal(raw, &sum); err != nil {
		return nil, err
	}
	delete(sum, "exportTime")
	sum["version"] = "2023-08-01"
	sum["exportFromTime"] = from.UTC().Format(awsTime)
	sum["exportToTime"] = to.UTC().Format(awsTime)
	sum["outputView"] = "NEW_AND_OLD_IMAGES"
	sum["exportType"] = "INCREMENTAL_EXPORT"
	body, err := json.Marshal(sum)
	if err != nil {
		return nil, err
	}
	md := md5.Sum(body)
	if err := os.WriteFile(p, body, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(w.Folder, "manifest-summary.md5"), []byte(base64.StdEncoding.EncodeToString(md[:])), 0o644); err != nil {
		return nil, err
	}
	return w, nil
}

func changeLine(c Change) ([]byte, error) {
	if c.Keys == nil {
		return nil, fmt.Errorf("a change needs Keys")
	}
	var b bytes.Buffer
	b.WriteString(`{"Metadata":{"WriteTimestampMicros":{"N":"`)
	b.WriteString(strconv.FormatInt(c.WriteTime.UnixMicro(), 10))
	b.WriteString(`"}}`)
	for _, part := range []struct {
		name string
		it   ddbitem.Item
	}{{"Keys", c.Keys}, {"OldImage", c.OldImage}, {"NewImage", c.NewImage}} {
		if part.it == nil {
			continue
		}
		j, err := part.it.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.WriteString(`,"` + part.name + `":`)
		b.Write(j)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
