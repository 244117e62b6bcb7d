package backfill

import "github.com/ddb2pg/ddb2pg/pkg/pgwrite"

// writeBuffers are a file's scratch space, reused by the files after it:
// grown anew for every file, the multi-MiB COPY batches and chunk buffers
// cost more in copying as they grew than they saved.
type writeBuffers struct {
	bulk *pgwrite.Bulk // the file's COPY writer (its batches)
	// lineBufs are the reader's chunk buffers (see fileLoad.read).
	lineBufs [][]byte
}

// getBuffers returns empty buffers for a file, reused when one is free.
func (r *run) getBuffers() *writeBuffers {
	var b *writeBuffers
	select {
	case b = <-r.buffers:
	default:
		b = &writeBuffers{bulk: r.writer.NewBulk()}
	}
	return b
}

// putBuffers hands a file's buffers back for the next file.
func (r *run) putBuffers(b *writeBuffers) {
	select {
	case r.buffers <- b:
	default:
	}
}
