// Package load is the backfill: it loads the items of a DynamoDB export into
// the mapped PostgreSQL tables.
//
// One export data file is the unit of work. A worker claims a file by
// locking its bookkeeping row (SELECT ... FOR UPDATE SKIP LOCKED), writes the
// file's rows with COPY, and commits them together with the record that the
// file is done. A crash loses at most the files in flight (their transactions
// roll back and their locks go with the connection); a rerun picks them up,
// and a rerun of a finished load changes nothing. Any number of workers, in
// any number of processes on any number of hosts, can share one export.
//
// Transient failures are retried under pgerr's one policy, in two budgets.
// A file that fails for a reason of its own or of concurrency (a deadlock,
// a serialization failure, a unique violation that calls for the careful
// mode, an S3 read error) is retried up to Config.MaxAttempts times. While
// PostgreSQL is unreachable, restarting or out of connections, or a lock
// stays held past lock_timeout, every step (registering the export,
// claiming a file, loading it, reading the status) is retried with backoff
// for up to Config.MaxOutage without using up any file's attempts; then the
// run stops with an *UnavailableError.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/decode"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

// Config is what a backfill needs. Pool, Mapping, Export and Ledger are
// required; the caller owns and closes the pool.
type Config struct {
	Pool    *pgxpool.Pool
	Mapping *mapping.Mapping
	Export  *export.Export
	Ledger  *ledger.Ledger
	// URI is how the export was named, recorded in the bookkeeping.
	URI string
	// RenamedFrom accepts an export whose manifest names this table
	// instead of the mapping's source table (the table was renamed); it is
	// recorded with the export. See SourceTableError.
	RenamedFrom string
	// Workers is the number of files loaded at once (default: CPU count).
	Workers int
	// ChunkItems bounds how many items are held in memory per worker
	// between round trips to PostgreSQL (default 1024).
	ChunkItems int
	// SharedSpillRows bounds the distinct shared-table rows a worker keeps
	// in memory per file before spilling them to its staging table.
	SharedSpillRows int
	// MaxAttempts bounds the attempts of a file that fails for a reason of
	// its own or of concurrency: a deadlock, a serialization failure, an S3
	// read error (default 5). Waiting out an outage uses none of them.
	MaxAttempts int
	// MaxOutage is how long the run keeps retrying while PostgreSQL is
	// unreachable, restarting or out of connections, or a lock it needs
	// stays held past lock_timeout (default 5 minutes), counted by each
	// worker from its first failure since PostgreSQL last answered it.
	// Past it the run stops with an *UnavailableError; files committed
	// before stay done.
	MaxOutage time.Duration
	// WorkerID names this process in the bookkeeping (default host:pid).
	WorkerID string
	Progress progress.Func
	Logger   *slog.Logger
	// WaitForOthers makes Run wait for files other processes are loading,
	// so its summary covers the whole export (default true via CLI).
	WaitForOthers bool
}

// Summary is the outcome of a backfill run.
type Summary struct {
	ExportID    string
	SourceTable string
	Status      ledger.ExportStatus
	// This run's own work.
	FilesLoaded int
	Items       int64
	Duration    time.Duration
	// FileErrors are the files this run could not load, with why.
	FileErrors []*FileError
}

// Complete reports whether the whole export is accounted for: every file
// done and loaded + skipped + rejected equal to the manifest's item count.
func (s *Summary) Complete() bool { return s.Status.Complete() && len(s.FileErrors) == 0 }

// FileError is a data file that could not be loaded.
type FileError struct {
	File     string
	Attempts int
	Err      error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("loading export file %s (attempt %d): %v", e.File, e.Attempts, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// IncompleteError says the run finished without the whole export loaded.
type IncompleteError struct {
	Summary *Summary
}

func (e *IncompleteError) Error() string {
	s := e.Summary.Status
	msg := fmt.Sprintf("backfill of export %s is incomplete: %d of %d files done, %d failed, %d pending; items accounted %d of %d",
		e.Summary.ExportID, s.Done, s.Files, s.Failed, s.Pending, s.Loaded+s.Skipped+s.Rejected, s.ManifestItems)
	for _, fe := range e.Summary.FileErrors {
		msg += "\n  " + fe.Error()
	}
	return msg
}

// UnavailableError says the run stopped because PostgreSQL stayed
// unavailable (or a lock stayed held) longer than Config.MaxOutage. The
// files done before are committed; a rerun loads the others.
type UnavailableError struct {
	ExportID string
	// FilesDone of FilesTotal were done when this process last knew;
	// FilesDone is -1 when it never read the export's status.
	FilesDone, FilesTotal int
	Outage                time.Duration // how long the run waited
	Err                   error         // the last failure
}

func (e *UnavailableError) Error() string {
	done := "the files loaded before stay loaded"
	if e.FilesDone >= 0 {
		done = fmt.Sprintf("%d of %d files were loaded and stay loaded", e.FilesDone, e.FilesTotal)
	}
	return fmt.Sprintf("backfill of export %s stopped: PostgreSQL was unavailable for %s, longer than the run waits (last error: %v); %s: rerun the same backfill when PostgreSQL is back, it loads only the files not done",
		e.ExportID, e.Outage.Round(time.Second), e.Err, done)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// StoppedError says the run stopped before the export was loaded, for a
// reason that is not one file's: the bookkeeping could not be read or
// written (permissions, a dropped table). Files done before stay done.
type StoppedError struct {
	ExportID              string
	FilesDone, FilesTotal int // as UnavailableError's
	Err                   error
}

func (e *StoppedError) Error() string {
	done := ""
	if e.FilesDone >= 0 {
		done = fmt.Sprintf(" (%d of %d files were loaded and stay loaded)", e.FilesDone, e.FilesTotal)
	}
	return fmt.Sprintf("backfill of export %s stopped: %v%s; rerun the same backfill once that is fixed, it loads only the files not done", e.ExportID, e.Err, done)
}

func (e *StoppedError) Unwrap() error { return e.Err }

func (c *Config) defaults() error {
	if c.Pool == nil || c.Mapping == nil || c.Export == nil || c.Ledger == nil {
		return errors.New("load: Pool, Mapping, Export and Ledger are required")
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.ChunkItems <= 0 {
		c.ChunkItems = 1024
	}
	if c.SharedSpillRows <= 0 {
		c.SharedSpillRows = 100_000
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.MaxOutage <= 0 {
		c.MaxOutage = 5 * time.Minute
	}
	if c.WorkerID == "" {
		host, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = func(progress.Snapshot) {}
	}
	return nil
}

// Run loads the export. It returns an *IncompleteError when it finished but
// not every file could be loaded; other errors mean it could not run.
// Rejected items are not errors: they are in the summary and the ledger.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	e := cfg.Export
	if err := checkSourceTable(cfg); err != nil {
		return nil, err
	}
	newDecoder, err := decode.For(e.Format())
	if err != nil {
		return nil, err
	}
	exportType := "FULL_EXPORT"
	if e.Incremental() {
		// An incremental export's lines are changes, written as the stream
		// writes them under the incremental guard (see incremental.go).
		exportType = "INCREMENTAL_EXPORT"
	}
	writer := pgwrite.New(cfg.Mapping, pgwrite.Options{Logger: cfg.Logger})
	files := e.Files()
	lf := make([]ledger.ExportFile, len(files))
	var total int64
	byKey := make(map[string]export.DataFile, len(files))
	for i, f := range files {
		lf[i] = ledger.ExportFile{Key: f.Key, Index: i, ItemCount: f.ItemCount}
		total += f.ItemCount
		byKey[f.Key] = f
	}
	r := &run{cfg: cfg, newDecoder: newDecoder, writer: writer, tables: writer.Tables(), files: byKey, start: start, itemsTotal: total, filesTotal: len(files), incremental: e.Incremental(),
		buffers: make(chan *writeBuffers, cfg.Workers)}
	r.filesDone.Store(-1) // not known yet
	if err := r.await(ctx, func(ctx context.Context) error {
		return cfg.Ledger.RegisterExport(ctx, cfg.Pool, ledger.Export{
			ID: e.ID(), SourceTable: cfg.Mapping.Source.Table, URI: cfg.URI, Type: exportType,
			Format: e.Format(), ExportTime: e.ExportTime(), ItemCount: e.Summary().ItemCount,
			Files: lf, MappingFingerprint: cfg.Mapping.Fingerprint(), ExportTable: exportTable(cfg),
		})
	}); err != nil {
		return nil, r.failure(ctx, err)
	}
	if !e.Incremental() {
		var has bool
		if err := r.await(ctx, func(ctx context.Context) (err error) {
			has, err = cfg.Ledger.HasItems(ctx, cfg.Pool, cfg.Mapping.Source.Table)
			return err
		}); err != nil {
			return nil, r.failure(ctx, err)
		}
		r.freshLedger.Store(!has)
	}
	st, err := r.status(ctx)
	if err != nil {
		return nil, r.failure(ctx, err)
	}
	r.items.Store(st.Loaded + st.Skipped + st.Rejected)
	r.rejected.Store(st.Rejected)
	r.report()

	var wg sync.WaitGroup
	for w := 0; w < cfg.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.worker(ctx)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("backfill interrupted: %w", err)
	}
	if err := r.stopped(); err != nil {
		return nil, r.failure(ctx, err)
	}
	if cfg.WaitForOthers {
		if err := r.waitForOthers(ctx); err != nil {
			return nil, r.failure(ctx, err)
		}
	}
	if st, err = r.status(ctx); err != nil {
		return nil, r.failure(ctx, err)
	}
	sum := &Summary{ExportID: e.ID(), SourceTable: cfg.Mapping.Source.Table, Status: st,
		FilesLoaded: int(r.loadedByMe.Load()), Items: r.myItems.Load(), Duration: time.Since(start), FileErrors: r.fileErrors()}
	if !sum.Complete() {
		return sum, &IncompleteError{Summary: sum}
	}
	if err := r.await(ctx, func(ctx context.Context) error {
		return cfg.Ledger.MarkExportFinished(ctx, cfg.Pool, e.ID())
	}); err != nil {
		return sum, r.failure(ctx, err)
	}
	return sum, nil
}

// outagePolicy waits out an outage (pgerr.IsOutage) for up to MaxOutage.
func (r *run) outagePolicy() pgerr.Policy {
	p := pgerr.OutagePolicy(r.cfg.MaxOutage)
	p.OnRetry = func(err error, attempt int, wait time.Duration) {
		r.cfg.Logger.Warn("waiting for PostgreSQL", "sqlstate", pgerr.Code(err), "err", err, "attempt", attempt, "wait", wait)
	}
	return p
}

// filePolicy retries a file's own transient failures MaxAttempts times.
func (r *run) filePolicy() pgerr.Policy {
	return pgerr.Policy{Initial: 200 * time.Millisecond, Max: 10 * time.Second, MaxAttempts: r.cfg.MaxAttempts}
}

// await runs a bookkeeping step, waiting out an outage.
func (r *run) await(ctx context.Context, op func(context.Context) error) error {
	return r.outagePolicy().Do(ctx, op)
}

// status reads the export's accounting, waiting out an outage, and keeps
// the count of done files for progress and error messages.
func (r *run) status(ctx context.Context) (ledger.ExportStatus, error) {
	var st ledger.ExportStatus
	err := r.await(ctx, func(ctx context.Context) (err error) {
		st, err = r.cfg.Ledger.Status(ctx, r.cfg.Pool, r.cfg.Export.ID())
		return err
	})
	if err == nil {
		r.filesDone.Store(int64(st.Done))
	}
	return st, err
}

// failure turns why the run stopped into the error Run returns.
func (r *run) failure(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("backfill interrupted: %w", err)
	}
	id := r.cfg.Export.ID()
	done := int(r.filesDone.Load())
	var ex *pgerr.ExhaustedError
	if errors.As(err, &ex) && pgerr.IsOutage(ex.Err) {
		return &UnavailableError{ExportID: id, FilesDone: done, FilesTotal: r.filesTotal, Outage: ex.Elapsed, Err: ex.Err}
	}
	var mismatch *ledger.MismatchError
	if errors.As(err, &mismatch) {
		return err // says what to do itself
	}
	return &StoppedError{ExportID: id, FilesDone: done, FilesTotal: r.filesTotal, Err: err}
}

type run struct {
	cfg        Config
	newDecoder func() decode.LineDecoder
	tables     []*pgwrite.Table
	files      map[string]export.DataFile
	start      time.Time
	itemsTotal int64
	filesTotal int
	// writer writes the rows; incremental: the export is an incremental
	// export (its changes are written as the stream writes them).
	writer      *pgwrite.Writer
	incremental bool

	filesDone  atomic.Int64
	items      atomic.Int64 // items accounted (whole export, as far as known)
	rejected   atomic.Int64
	myItems    atomic.Int64
	loadedByMe atomic.Int64

	mu     sync.Mutex
	failed map[string]*FileError // files this process gave up on
	fatal  error                 // why workers stopped claiming (first one)

	committed committedShared
	claims    sharedClaims
	buffers   chan *writeBuffers // free ones, one per worker at most

	// freshLedger: the ledger held no item of the source table when the run
	// began, so claims can skip looking items up; cleared at the first
	// unique violation (a concurrent writer appeared).
	freshLedger atomic.Bool
}

func (r *run) report() {
	r.cfg.Progress(progress.Snapshot{Step: "backfill", FilesDone: int(r.filesDone.Load()), FilesTotal: r.filesTotal,
		Items: r.items.Load(), ItemsTotal: r.itemsTotal, Rejected: r.rejected.Load(), Elapsed: time.Since(r.start)})
}

func (r *run) skipList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.failed))
	for k := range r.failed {
		out = append(out, k)
	}
	return out
}

func (r *run) fileErrors() []*FileError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*FileError, 0, len(r.failed))
	for _, fe := range r.failed {
		out = append(out, fe)
	}
	return out
}

// worker claims and loads files until none is claimable, or until a
// failure that is not one file's stops the run.
func (r *run) worker(ctx context.Context) {
	log := r.cfg.Logger
	for ctx.Err() == nil && r.stopped() == nil {
		res, err := r.loadNext(ctx)
		if err == nil && res == nil {
			return // nothing claimable
		}
		if err == nil {
			continue
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			log.Error("backfill worker stopped", "err", err)
			r.stop(err)
			return
		}
		log.Warn("file failed", "file", fe.File, "attempt", fe.Attempts, "err", fe.Err)
	}
}

// stop records why the run cannot go on; the first reason wins.
func (r *run) stop(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal == nil {
		r.fatal = err
	}
}

func (r *run) stopped() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fatal
}

func (r *run) recordFailure(fe *FileError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failed == nil {
		r.failed = map[string]*FileError{}
	}
	r.failed[fe.File] = fe
}

// loadNext claims one file and loads it, retrying transient failures (see
// the package comment for the two budgets). It returns (nil, nil) when no
// file is claimable, a *FileError when it gave up on a file, and any other
// error when the run cannot go on.
func (r *run) loadNext(ctx context.Context) (*ledger.FileResult, error) {
	careful := false
	outage := r.outagePolicy().Start()
	var tries *pgerr.Retry
	var triesKey string
	for {
		res, key, err := r.loadOne(ctx, careful)
		if err == nil {
			return res, nil // res nil: nothing to claim
		}
		if ctx.Err() != nil {
			if key == "" {
				return nil, err
			}
			return nil, &FileError{File: key, Attempts: 1, Err: err}
		}
		// Damage reads the same every time (a truncated gzip even ends in
		// io.ErrUnexpectedEOF, which looks like a dropped connection).
		damaged := export.IsDamaged(err)
		// Before a file is claimed nothing of a file is at stake: any
		// transient failure is waited out, like an outage.
		if !damaged && (pgerr.IsOutage(err) || (key == "" && pgerr.IsRetryable(err))) {
			if key != "" && pgerr.IsUnavailable(err) {
				// The claim went through, so PostgreSQL was back since
				// the last failure: this is a new outage. (Lock timeouts
				// add up: a lock held for good must end the run.)
				outage = r.outagePolicy().Start()
			}
			if werr := outage.Wait(ctx, err); werr != nil {
				return nil, werr
			}
			continue
		}
		outage = r.outagePolicy().Start() // PostgreSQL answered
		if key == "" {
			return nil, err
		}
		if key != triesKey {
			tries, triesKey = r.filePolicy().Start(), key
		}
		// Canceled with ctx alive: a deadline of the file's own.
		retry := !damaged && (pgerr.IsRetryable(err) || pgerr.Classify(err) == pgerr.Canceled)
		if pgerr.IsUniqueViolation(err) || (pgerr.IsForeignKeyViolation(err) && !careful) {
			r.freshLedger.Store(false) // look items up from now on
			// A unique violation means a row appeared that the file's
			// reading did not see: the stream recorded one of the items
			// meanwhile (the retry sees it and skips the item), or rows of
			// "fresh" items exist because the tables were loaded by other
			// means (the careful retry deletes each item's rows first).
			// A foreign key violation (a user's deferred constraint,
			// checked at commit) can mean a shared row this file left to
			// another file of this process that has not committed yet
			// (see sharedClaims): the careful retry writes it itself.
			careful = true
			retry = true
		}
		attempts := tries.Attempts() + 1
		if retry && attempts < r.cfg.MaxAttempts {
			r.cfg.Logger.Warn("retrying file after transient error", "file", key, "attempt", attempts,
				"sqlstate", pgerr.Code(err), "err", err)
			werr := tries.Wait(ctx, err)
			if werr == nil {
				continue
			}
			if ctx.Err() != nil {
				return nil, &FileError{File: key, Attempts: attempts, Err: err}
			}
		}
		fe := &FileError{File: key, Attempts: attempts, Err: err}
		r.recordFailure(fe)
		// Best effort: the run's own summary has the error either way.
		_ = r.cfg.Ledger.MarkFileFailed(context.WithoutCancel(ctx), r.cfg.Pool, r.cfg.Export.ID(), key, r.cfg.WorkerID, err)
		return nil, fe
	}
}

// waitForOthers polls until the files other processes hold are done or
// released, loading released ones itself.
func (r *run) waitForOthers(ctx context.Context) error {
	for {
		if err := r.stopped(); err != nil {
			return err
		}
		st, err := r.status(ctx)
		if err != nil {
			return err
		}
		mine := len(r.fileErrors())
		if st.Done+mine >= st.Files || st.Pending+st.Failed <= mine {
			return nil
		}
		// Another process may have died: try to claim what it held.
		res, err := r.loadNext(ctx)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				return err
			}
			continue
		}
		if res != nil {
			continue
		}
		r.report()
		if err := pgerr.Sleep(ctx, time.Second); err != nil {
			return fmt.Errorf("waiting for other processes' files: %w", err)
		}
	}
}
