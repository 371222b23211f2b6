package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A Tor of the node's own ([tor] launch = true), as Tahoe's
// tor_provider.py launches one: tor keeps its state in
// private/tor-statedir and takes commands on the control socket
// private/tor.control; the onion service is added through that socket,
// and tor's SOCKS port (chosen by tor) is asked of it. lafs writes tor's
// whole configuration itself, so that no system or user torrc changes
// what the node's Tor does.

// Where a launched tor lives, under the node's private/ directory.
const (
	torStateDir    = "tor-statedir"
	torControlSock = "tor.control"
)

// Bounds on a launched tor: how long it may take before its control port
// answers, and how long it has to exit after SIGTERM before it is killed.
const (
	torStartTimeout = 60 * time.Second
	torStopTimeout  = 10 * time.Second
)

// maxUnixSocketPath is the longest path a unix socket can have on Linux
// (sun_path holds 108 bytes with the final NUL; tor checks the same).
const maxUnixSocketPath = 107

// torFallbackPaths are where a tor is looked for when $PATH has none:
// Debian installs it in /usr/sbin, which is not in a user's $PATH.
var torFallbackPaths = []string{"/usr/sbin/tor", "/usr/bin/tor", "/usr/local/bin/tor"}

// ErrTorExited is wrapped by the errors about a launched tor that is
// gone.
var ErrTorExited = errors.New("the node's tor has exited")

// torProcess is a running tor that lafs launched.
type torProcess struct {
	cmd     *exec.Cmd
	control string      // its control port, as dialTorControl takes it (unix:PATH or tcp:127.0.0.1:PORT)
	owner   *torControl // the connection that owns tor (TAKEOWNERSHIP): tor exits when it closes
	out     *outputTail
	label   string // what started it, for errors: the setting and the program

	done     chan struct{} // closed once tor has exited
	waitErr  error         // cmd.Wait's result, set before done is closed
	stopping chan struct{} // closed when stop is called
	stopOnce sync.Once
}

// startTor starts a tor for a node whose private directory is private:
// tor.executable is exe (a name looked up in $PATH and Debian's places,
// or a path: a relative one is taken from base), "" meaning "tor".
// setting names exe's setting in errors ("[tor] tor.executable" or
// "--tor-executable"). It returns once tor's control port answers, with
// a connection to it that owns tor. Tor is told, by a torrc written in
// its state directory and by the empty defaults file beside it, to
// read no other configuration file.
func startTor(ctx context.Context, exe, base, private, setting string) (*torProcess, error) {
	bin, label, err := torProgram(exe, base, setting)
	if err != nil {
		return nil, err
	}
	statedir := filepath.Join(private, torStateDir)
	if err := os.MkdirAll(statedir, 0o700); err != nil {
		return nil, fmt.Errorf("tor's state directory: %w", err)
	}
	if err := os.Chmod(statedir, 0o700); err != nil {
		return nil, fmt.Errorf("tor's state directory: %w", err)
	}
	// Another tor on this state directory (the node running already)
	// answers on its control port: never take it for ours, nor touch
	// its files.
	if err := torAlreadyRunning(statedir, filepath.Join(private, torControlSock)); err != nil {
		return nil, err
	}
	conf, control, err := torrc(statedir, filepath.Join(private, torControlSock))
	if err != nil {
		return nil, err
	}
	torrcPath := filepath.Join(statedir, "torrc")
	defaults := filepath.Join(statedir, "torrc-defaults")
	if err := os.WriteFile(torrcPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("writing tor's torrc: %w", err)
	}
	if err := os.WriteFile(defaults, nil, 0o600); err != nil {
		return nil, fmt.Errorf("writing tor's torrc: %w", err)
	}
	cmd := exec.Command(bin, "--defaults-torrc", defaults, "-f", torrcPath, "--ignore-missing-torrc")
	out := &outputTail{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = torStopTimeout // a child of a wrapper holding tor's output open
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: starting %w", label, err)
	}
	p := &torProcess{cmd: cmd, control: control, out: out, label: label, done: make(chan struct{}), stopping: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.takeControl(ctx, statedir); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// torAlreadyRunning returns an error if a tor answers on the control
// socket sock, or on the port its state directory's control_port file
// names (where a tor with too long a socket path listens).
func torAlreadyRunning(statedir, sock string) error {
	if c, err := net.DialTimeout("unix", sock, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("a Tor already answers at %s: does the node run already?", sock)
	}
	addr := readControlPortFile(filepath.Join(statedir, "control_port"))
	if host, _, err := net.SplitHostPort(addr); err != nil || !loopback(host) {
		return nil
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("a Tor already answers at %s (%s): does the node run already?", addr, filepath.Join(statedir, "control_port"))
	}
	return nil
}

// torProgram finds the tor program to run (see startTor), and returns it
// with a label naming it and its setting for errors.
func torProgram(exe, base, setting string) (bin, label string, err error) {
	switch {
	case exe == "":
		label = fmt.Sprintf("tor (%s not set)", setting)
		if bin, err = exec.LookPath("tor"); err == nil {
			return bin, label, nil
		}
		for _, p := range torFallbackPaths {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, label, nil
			}
		}
		return "", "", fmt.Errorf("no tor found in $PATH nor at %s: install tor, or name it with %s", strings.Join(torFallbackPaths, ", "), setting)
	case strings.ContainsAny(exe, "\x00\r\n"):
		return "", "", fmt.Errorf("%s: a line break or NUL in the program name", setting)
	}
	label = fmt.Sprintf("%s %q", setting, exe)
	switch {
	case filepath.IsAbs(exe):
		bin = exe
	case strings.ContainsRune(exe, '/') || strings.ContainsRune(exe, filepath.Separator):
		bin = filepath.Join(base, exe)
	default:
		if bin, err = exec.LookPath(exe); err != nil {
			return "", "", fmt.Errorf("%s: %w", label, err)
		}
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", label, err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", "", fmt.Errorf("%s: %s is not an executable program", label, bin)
	}
	return bin, label, nil
}

// torrc returns the configuration of a launched tor and its control
// endpoint. The control port is the unix socket sock (in the node's
// private directory, which only the node's user may enter), unless its
// path is too long for a unix socket (or holds characters that the
// endpoint syntax cannot carry): tor then listens on a port of its
// choosing on 127.0.0.1 and writes it to a file in statedir. Either way
// it takes cookie authentication only, its cookie in statedir.
func torrc(statedir, sock string) (conf, control string, err error) {
	var b strings.Builder
	w := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", k, v) }
	q := func(s string) string {
		v, qerr := torrcQuote(s)
		if qerr != nil && err == nil {
			err = fmt.Errorf("tor cannot be given the path %q: %w", s, qerr)
		}
		return v
	}
	b.WriteString("# Written by lafs at every start of the node's own Tor ([tor] launch = true): edits are lost.\n")
	w("DataDirectory", q(statedir))
	if len(sock) <= maxUnixSocketPath && !strings.ContainsAny(sock, "\":\\") {
		// unix:"PATH" keeps a path with spaces one word.
		w("ControlPort", q(`unix:"`+sock+`"`))
		control = "unix:" + sock
	} else {
		// Too long for a unix socket: a TCP port on loopback, which
		// the cookie guards.
		portFile := filepath.Join(statedir, "control_port")
		if rerr := os.Remove(portFile); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return "", "", fmt.Errorf("removing tor's old control_port file: %w", rerr)
		}
		w("ControlPort", "127.0.0.1:auto")
		w("ControlPortWriteToFile", q(portFile))
	}
	w("CookieAuthentication", "1")
	w("SocksPort", "127.0.0.1:auto")
	w("__OwningControllerProcess", strconv.Itoa(os.Getpid()))
	w("Log", "notice stdout")
	return b.String(), control, err
}

// torrcQuote quotes s as a torrc value: a C string, which tor unescapes.
func torrcQuote(s string) (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			return "", errors.New("a control character in it")
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String(), nil
}

// takeControl waits (within torStartTimeout) until tor's control port
// answers, connects to it and makes that connection tor's owner.
func (p *torProcess) takeControl(ctx context.Context, statedir string) error {
	ctx, cancel := context.WithTimeout(ctx, torStartTimeout)
	defer cancel()
	var last error
	for {
		endpoint := p.control
		if endpoint == "" {
			if addr := readControlPortFile(filepath.Join(statedir, "control_port")); addr != "" {
				endpoint = "tcp:" + addr
			}
		}
		if endpoint != "" {
			c, err := dialTorControl(ctx, endpoint)
			if err == nil {
				if _, err = c.cmd("TAKEOWNERSHIP"); err == nil {
					p.control, p.owner = endpoint, c
					return nil
				}
				c.Close()
			}
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before its control port answered (%v); its last output:\n%s", p.label, p.waitErr, p.out.tail(15))
		case <-ctx.Done():
			return fmt.Errorf("%s: its control port did not answer within %v (%v); its last output:\n%s", p.label, torStartTimeout, orNone(last), p.out.tail(15))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orNone(err error) any {
	if err == nil {
		return "no control port yet"
	}
	return err
}

// readControlPortFile returns the address a ControlPortWriteToFile file
// holds (PORT=127.0.0.1:NNNN), or "" if there is none yet.
func readControlPortFile(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "PORT="); ok {
			if _, err := socksAddr(v); err == nil {
				return v
			}
		}
	}
	return ""
}

// exited returns an error wrapping ErrTorExited if tor is gone.
func (p *torProcess) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%w (%s: %v); its last output:\n%s", ErrTorExited, p.label, p.waitErr, p.out.tail(10))
	default:
		return nil
	}
}

// stop ends tor: SIGTERM, then SIGKILL if it has not exited within
// torStopTimeout. It returns once tor has exited.
func (p *torProcess) stop() {
	p.stopOnce.Do(func() {
		close(p.stopping)
		select {
		case <-p.done:
		default:
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				p.cmd.Process.Kill()
			}
			select {
			case <-p.done:
			case <-time.After(torStopTimeout):
				p.cmd.Process.Kill()
				<-p.done
			}
		}
		if p.owner != nil {
			p.owner.Close()
		}
	})
}

// outputTail keeps the last few kilobytes a process writes, to show in
// errors.
type outputTail struct {
	mu  sync.Mutex
	buf []byte
}

const maxOutputTail = 8 << 10

// Write keeps the end of what was written.
func (t *outputTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if n := len(t.buf); n > maxOutputTail {
		t.buf = append([]byte(nil), t.buf[n-maxOutputTail:]...)
	}
	return len(b), nil
}

// tail returns the last n lines written.
func (t *outputTail) tail(n int) string {
	t.mu.Lock()
	s := strings.TrimRight(string(t.buf), "\n")
	t.mu.Unlock()
	if s == "" {
		return "(nothing)"
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// launchedTor is the node's own Tor ([tor] launch = true), started at
// the first need of it and stopped when the node closes. Start is lazy,
// as in Tahoe: a node with an onion service needs Tor at once (Start
// publishes the service), but a client that reaches its servers over TCP
// may never need Tor, and should not start it (nor put its traffic on the
// network) for nothing. A launched tor that exits while the node runs is
// not started again: the node's errors say it is gone.
type launchedTor struct {
	exe     string // [tor] tor.executable
	basedir string // absolute
	log     *slog.Logger
	onExit  func(error) // told when tor exits on its own

	ctx    context.Context // ends when the node closes
	cancel context.CancelFunc

	mu       sync.Mutex
	proc     *torProcess
	starting *torStart // the start under way, if any
	closed   bool
}

// torStart is one attempt to start the node's tor.
type torStart struct {
	done chan struct{}
	proc *torProcess
	err  error
}

// newLaunchedTor prepares the Tor of the node that cfg configures; it
// starts nothing.
func newLaunchedTor(cfg *Config) (*launchedTor, error) {
	base, err := filepath.Abs(filepath.Dir(cfg.File()))
	if err != nil {
		return nil, fmt.Errorf("%s: [tor] launch: %w", cfg.File(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &launchedTor{exe: cfg.Tor().Executable, basedir: base, log: slog.New(slog.DiscardHandler), ctx: ctx, cancel: cancel}, nil
}

// adoptTor gives the node the Tor that out launches for it, if
// [tor] launch = true: its onion service uses it, it is stopped when the
// node closes, and its exit while the node runs is one of the node's
// Errors.
func (n *Node) adoptTor(out *outbound) {
	l := out.launched
	if l == nil {
		return
	}
	n.tor = l
	l.log = n.Log.With("service", "tor")
	l.onExit = func(err error) {
		select {
		case n.errc <- err:
		default:
		}
	}
	n.addCloser(l.stop)
}

// controlPort returns the control endpoint of the node's tor, starting
// tor if it does not run yet and waiting (within ctx) until it answers.
func (l *launchedTor) controlPort(ctx context.Context) (string, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return "", fmt.Errorf("%w: the node is closing", ErrTorExited)
	}
	if p := l.proc; p != nil {
		l.mu.Unlock()
		if err := p.exited(); err != nil {
			return "", err
		}
		return p.control, nil
	}
	s := l.starting
	if s == nil {
		s = &torStart{done: make(chan struct{})}
		l.starting = s
		go l.start(s)
	}
	l.mu.Unlock()
	select {
	case <-s.done:
		if s.err != nil {
			return "", s.err
		}
		return s.proc.control, nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for the node's tor to start: %w", ctx.Err())
	}
}

// start makes the attempt s to start tor. A failed attempt leaves the
// next call of controlPort to try again.
func (l *launchedTor) start(s *torStart) {
	p, err := startTor(l.ctx, l.exe, l.basedir, filepath.Join(l.basedir, "private"), "[tor] tor.executable")
	l.mu.Lock()
	l.starting = nil
	if err == nil && l.closed {
		err = fmt.Errorf("%w: the node is closing", ErrTorExited)
	} else if err == nil {
		l.proc = p
	}
	l.mu.Unlock()
	if err != nil && p != nil {
		p.stop()
	}
	if err == nil {
		l.log.Info("tor launched", "pid", p.cmd.Process.Pid, "control", p.control, "state_dir", filepath.Join("private", torStateDir))
		go l.watch(p)
	}
	s.proc, s.err = p, err
	close(s.done)
}

// watch reports tor's exit, unless the node stopped it.
func (l *launchedTor) watch(p *torProcess) {
	select {
	case <-p.done:
	case <-p.stopping:
		return
	}
	select {
	case <-p.stopping:
		return
	default:
	}
	err := p.exited()
	l.log.Error("the node's tor exited", "err", err)
	if l.onExit != nil {
		l.onExit(err)
	}
}

// stop stops the node's tor, or a start under way, and waits until tor
// has exited.
func (l *launchedTor) stop() {
	l.mu.Lock()
	l.closed = true
	p, s := l.proc, l.starting
	l.mu.Unlock()
	l.cancel()
	if s != nil {
		<-s.done
	}
	if p != nil {
		p.stop()
	}
}
