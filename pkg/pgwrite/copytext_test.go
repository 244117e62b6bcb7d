package pgwrite

import "testing"

func TestAppendText(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"plain":              "plain",
		"tab\there":          `tab\there`,
		"line\nbreak\r\n":    `line\nbreak\r\n`,
		`back\slash`:         `back\\slash`,
		`\N`:                 `\\N`,
		"":                   "",
		`[{"S":"a\\tb"}]`:    `[{"S":"a\\\\tb"}]`,
		"unicode ✓ \u00e9\t": `unicode ✓ é\t`,
	}
	for in, want := range cases {
		if got := string(AppendText(nil, in)); got != want {
			t.Errorf("AppendText(%q) = %q, want %q", in, got, want)
		}
		if got := string(AppendText(nil, []byte(in))); got != want {
			t.Errorf("AppendText([]byte %q) = %q, want %q", in, got, want)
		}
	}
}
