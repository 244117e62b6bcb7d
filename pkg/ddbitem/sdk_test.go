package ddbitem

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestAttributeValueRoundTrip(t *testing.T) {
	it := Item{
		"s": Str("x"), "n": Num("12.50"), "b": Bin([]byte{1, 2}), "t": Bool(true), "z": Null(),
		"m":  MapOf(map[string]Value{"a": ListOf(Num("1"), Str("y")), "e": MapOf(map[string]Value{})}),
		"ss": StrSet("a", "b"), "ns": NumSet("1", "2.5"), "bs": BinSet([]byte{3}), "l": ListOf(),
	}
	back, err := ItemFromAttributeValues(it.AttributeValues())
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(it) {
		t.Fatalf("%d attributes back, want %d", len(back), len(it))
	}
	for k, v := range it {
		if !Equal(v, back[k]) {
			t.Errorf("%s: %v came back as %v", k, v, back[k])
		}
	}
	if back["n"].Str != "12.50" {
		t.Errorf("number text changed: %q", back["n"].Str)
	}
	if _, err := FromAttributeValue(&types.AttributeValueMemberL{Value: []types.AttributeValue{nil}}); err == nil {
		t.Error("nil member accepted")
	}
}
