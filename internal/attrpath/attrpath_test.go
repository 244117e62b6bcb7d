package attrpath

import "testing"

func TestPath(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  *Error
		want string
	}{
		{Errorf("x"), ""},
		{Errorf("x").In("price").At(2).In("items").In("Item"), "Item.items[2].price"},
		{Errorf("x").At(0).In("a.b").In("Item"), `Item["a.b"][0]`},
		{Errorf("x").In("").In("Item"), `Item[""]`},
		{Errorf("x").In("naïve"), `["naïve"]`},
	}
	for _, c := range cases {
		if got := c.err.Path(); got != c.want {
			t.Errorf("Path() = %q, want %q", got, c.want)
		}
	}
	if Errorf("bad %d", 1).Error() != "bad 1" {
		t.Error("Error() should be the reason")
	}
}
