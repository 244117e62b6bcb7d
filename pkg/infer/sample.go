package infer

import (
	"context"
	"errors"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/decode"
	"github.com/ddb2pg/ddb2pg/pkg/export"
)

// DefaultSample is the number of items read when none is asked for.
const DefaultSample = 10000

// DecoderFor returns the line decoder for an export's outputFormat.
func DecoderFor(format string) (decode.LineDecoder, error) {
	newDec, err := decode.For(format)
	if err != nil {
		return nil, err
	}
	return newDec(), nil
}

var errEnough = errors.New("sample quota reached")

// SampleExport reads about n items spread over all the export's data files:
// each file contributes in proportion to its item count, taking every k-th
// line so that the sample covers the whole file, not just its start.
// Incremental exports contribute their new images.
func SampleExport(ctx context.Context, exp *export.Export, n int) ([]ddbitem.Item, error) {
	if n <= 0 {
		n = DefaultSample
	}
	dec, err := DecoderFor(exp.Format())
	if err != nil {
		return nil, err
	}
	files := exp.Files()
	var total int64
	for _, f := range files {
		total += f.ItemCount
	}
	var items []ddbitem.Item
	for i, f := range files {
		if f.ItemCount == 0 && total > 0 {
			continue
		}
		// quota for this file: its share of n (at least one line).
		quota := int64(n) / int64(len(files))
		if total > 0 {
			quota = (int64(n)*f.ItemCount + total - 1) / total
		}
		quota = max(quota, 1)
		if rem := int64(n - len(items)); i == len(files)-1 && rem > quota {
			quota = rem
		}
		step := int64(1)
		if f.ItemCount > quota {
			step = f.ItemCount / quota
		}
		var taken, seen int64
		err := exp.ReadFile(ctx, f, func(_ int64, data []byte) error {
			seen++
			if (seen-1)%step != 0 {
				return nil
			}
			rec, err := dec.DecodeExportLine(data)
			if err != nil {
				return err
			}
			it := rec.Item
			if rec.Incremental {
				it = rec.NewImage
			}
			if it != nil {
				items = append(items, it)
				taken++
			}
			if taken >= quota || len(items) >= n {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, err
		}
		if len(items) >= n {
			break
		}
	}
	return items, nil
}

// FirstItems reads the first n items of the export's data files, in file
// order: a cheap look at the data (a few reads at the start of the first
// files) for checks before a load, where SampleExport reads every file.
// Incremental exports contribute their new images.
func FirstItems(ctx context.Context, exp *export.Export, n int) ([]ddbitem.Item, error) {
	dec, err := DecoderFor(exp.Format())
	if err != nil {
		return nil, err
	}
	var items []ddbitem.Item
	for _, f := range exp.Files() {
		if len(items) >= n {
			break
		}
		err := exp.ReadFile(ctx, f, func(_ int64, data []byte) error {
			rec, err := dec.DecodeExportLine(data)
			if err != nil {
				return err
			}
			it := rec.Item
			if rec.Incremental {
				it = rec.NewImage
			}
			if it != nil {
				items = append(items, it)
			}
			if len(items) >= n {
				return errEnough
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return nil, err
		}
	}
	return items, nil
}
