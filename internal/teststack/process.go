package teststack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds how long a server may take to answer after start; a
	// cold JVM on a loaded 2-core machine takes several seconds.
	readyTimeout = 2 * time.Minute
	// stopTimeout is how long a server gets to exit after its stop signal.
	stopTimeout = 20 * time.Second
	// pgUser is the system user PostgreSQL runs as when we are root (it
	// refuses to run as root); scripts/stack.sh uses the same one.
	pgUser = "ddb2pg"
	// tempPrefix names this package's temp dirs so that leftovers of killed
	// test binaries can be found and removed.
	tempPrefix = "ddb2pg-teststack-"
)

// proc is a server process started by this test binary.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stopSig syscall.Signal
	logPath string
	done    chan struct{} // closed when the process has exited
}

var (
	mu      sync.Mutex
	procs   []*proc  // in start order; stopped in reverse
	closers []func() // run by stopAll before the servers stop (client pools)

	baseOnce sync.Once
	baseDir  string
	baseErr  error

	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// startCmd starts cmd from one OS thread that lives as long as the test
// binary. The servers get a parent-death signal, and Linux sends it when the
// *thread* that forked them exits, not the process: Go may retire an idle
// thread, which would kill a server in mid-test. A locked, never-ending
// goroutine keeps that thread alive.
func startCmd(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not exit
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}

// spawn starts a server whose output goes to logPath. deathSig is what it gets
// if the test binary dies; stopSig is how stopAll asks it to exit.
func spawn(name string, cmd *exec.Cmd, logPath string, deathSig, stopSig syscall.Signal) (*proc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	cmd.Stdin = nil
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = deathSig
	// Its own process group: a Ctrl-C meant for `go test` must not reach the
	// servers before the tests' cleanups have used them.
	cmd.SysProcAttr.Setpgid = true
	if err := startCmd(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, cmd.Path, err)
	}
	p := &proc{name: name, cmd: cmd, stopSig: stopSig, logPath: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // its exit is seen through done; stop reports a hang
		logFile.Close()
		close(p.done)
	}()
	mu.Lock()
	procs = append(procs, p)
	mu.Unlock()
	return p, nil
}

// stop asks the process to exit and kills it if it does not in time.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(p.stopSig)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s ignored %v for %v and was killed", p.name, p.stopSig, stopTimeout)
}

// waitReady polls ready until it succeeds, the process exits, or readyTimeout.
func (p *proc) waitReady(ready func(ctx context.Context) error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v)%s", p.name, p.cmd.ProcessState, logTail(p.logPath))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w%s", p.name, readyTimeout, err, logTail(p.logPath))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopAll closes client pools, stops the servers in reverse start order and
// removes their data.
func stopAll() error {
	mu.Lock()
	cs, ps := closers, procs
	closers, procs = nil, nil
	mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
	var errs []error
	for i := len(ps) - 1; i >= 0; i-- {
		if err := ps[i].stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if baseDir != "" && len(ps) > 0 {
		if err := os.RemoveAll(baseDir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", baseDir, err))
		}
	}
	return errors.Join(errs...)
}

// onStop registers f to run in stopAll before the servers stop.
func onStop(f func()) {
	mu.Lock()
	closers = append(closers, f)
	mu.Unlock()
}

// workDir returns this test binary's temp dir, creating it on first use after
// removing the dirs of test binaries that died without cleaning up.
func workDir() (string, error) {
	baseOnce.Do(func() {
		parent := os.TempDir()
		if os.Geteuid() == 0 {
			// PostgreSQL runs as pgUser and must reach its data dir; TMPDIR
			// may be under /root, which it cannot enter.
			parent = "/tmp"
		}
		sweepStale(parent)
		dir, err := os.MkdirTemp(parent, tempPrefix)
		if err != nil {
			baseErr = fmt.Errorf("creating the temp dir: %w", err)
			return
		}
		// Traversable by pgUser, whose data dir is a subdirectory it owns.
		if err := os.Chmod(dir, 0o711); err != nil {
			baseErr = fmt.Errorf("making %s traversable: %w", dir, err)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			baseErr = fmt.Errorf("writing owner pid: %w", err)
			return
		}
		baseDir = dir
	})
	return baseDir, baseErr
}

// sweepStale removes temp dirs of test binaries that no longer run (killed by
// a timeout or a signal before Run could clean up). Their servers already
// died with them through the parent-death signal.
func sweepStale(parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, tempPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			// Being created right now, or broken long ago.
			if fi, err := os.Stat(dir); err == nil && time.Since(fi.ModTime()) > time.Hour {
				_ = os.RemoveAll(dir)
			}
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(dir)
		}
	}
}

// installDeps runs scripts/install-deps.sh for the given components and
// returns the paths it prints (PGBIN, MINIO_BIN, DDBLOCAL_DIR). Concurrent test
// binaries serialize on the script's lock, so nothing is built twice.
func installDeps(components ...string) (map[string]string, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "scripts", "install-deps.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("bash", append([]string{script}, components...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", script, strings.Join(components, " "), err, stderr.String())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			vars[k] = v
		}
	}
	return vars, nil
}

// freePort returns a loopback port that was free a moment ago. Another process
// may take it before the server binds it; the start loops retry then.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// pgCredential returns the credential to run PostgreSQL with: pgUser's when we
// are root (created if missing), nil (ourselves) otherwise.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(pgUser)
	if err != nil {
		// Another test binary may create it at the same time: only the final
		// lookup counts.
		out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", pgUser).CombinedOutput()
		if u, err = user.Lookup(pgUser); err != nil {
			return nil, fmt.Errorf("creating system user %s for PostgreSQL: %v: %s", pgUser, addErr, out)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("uid of %s: %w", pgUser, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("gid of %s: %w", pgUser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// logTail returns the last lines of a server log, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "\n--- last lines of " + path + " ---\n" + strings.Join(lines, "\n")
}
