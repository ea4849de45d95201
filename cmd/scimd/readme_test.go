package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeTryOuts runs the shell blocks of README.md's try-outs ("Try it
// out" and "Try presence locally") in the order they are written, as a new
// user would, and checks what they print. Blocks are marked with a comment
// before them:
//
//	<!-- try-out:server NAME -->   a command that serves until stopped: run in the background
//	<!-- try-out:vars -->          values the user copies from the first start's output
//	<!-- try-out:run NAME -->      commands that end: run, then checks[NAME] reads their output
//	<!-- try-out:stream NAME -->   a command that streams: read until checks[NAME] passes
//	<!-- try-out:restart NAME -->  Ctrl-C the running scimd, then start server NAME again
//	<!-- try-out:stop -->          Ctrl-C everything still running
//
// The blocks run in one bash session (variables carry from one to the
// next) in a temporary folder, against scimd and fakegraph built from this
// tree: `go run ./cmd/X` runs the built binary. What differs from a user's
// terminal is only the ports: localhost:8080 and 127.0.0.1:8090 become
// free ports.
func TestReadmeTryOuts(t *testing.T) {
	var missing []string
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("the README's try-outs need %s, not found on PATH", strings.Join(missing, ", "))
		if os.Getenv("SCIMD_TEST_TRYOUTS") == "require" { // CI: .ci/run installs them
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseTryOuts(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	example, err := exampleFirstStart(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if s.kind == "run" || s.kind == "stream" {
			seen[s.name] = true
			if readmeChecks[s.name] == nil {
				t.Errorf("README.md:%d: block %q has no check in readmeChecks", s.line, s.name)
			}
		}
	}
	for name := range readmeChecks {
		if !seen[name] {
			t.Errorf("readmeChecks[%q]: no such block in README.md", name)
		}
	}
	if t.Failed() {
		return
	}

	ss := newSession(t)
	ss.example = example
	for _, s := range steps {
		ss.do(s)
	}
	if len(ss.running) > 0 {
		t.Errorf("the try-outs end with %d servers still running: say how to stop them", len(ss.running))
	}
}

// readmeChecks check the output of each run and stream block; vars holds
// the session's variables after the block.
var readmeChecks = map[string]func(out string, vars map[string]string) error{
	"create-user": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{`"userName":"ann@contoso.com"`, `"department":"Support"`, `"resourceType":"User"`}, "USER_ID")
	},
	"patch-user": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{`"title":"Team Lead"`, `{"type":"mobile","value":"+447911123456"}`, `"version":"W/\"2\""`})
	},
	"refused-user": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{`"status":"400"`, `\"020 7183 8751\" is not E.164`,
			`"identity":"bob@contoso.com"`, `"status":"Failed"`, `"operation":"update"`})
	},
	"lookup": func(out string, vars map[string]string) error {
		if !strings.HasPrefix(vars["KEY"], "scimd_key_") {
			return fmt.Errorf("KEY = %q, not an API key", vars["KEY"])
		}
		return wantAll(out, vars, []string{`{"phone":"+447911123456","contacts":[{`, `"displayName":"Ann Archer"`,
			`"title":"Team Lead"`, `{"contacts":[{`}, "KEY")
	},
	"presence-setup": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{`"state":"connected"`, `"credential":"secret"`}, "TRY_ID", "TRY_TOKEN", "TRY_KEY")
	},
	"presence-stream": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{"retry: 5000", "event: presence\ndata: {\"contactId\":\"", `"availability":"`})
	},
	"presence-status": func(out string, vars map[string]string) error {
		return wantAll(out, vars, []string{`"state":"connected"`})
	},
}

func wantAll(out string, vars map[string]string, want []string, varNames ...string) error {
	for _, w := range want {
		if !strings.Contains(out, w) {
			return fmt.Errorf("the output lacks %s", w)
		}
	}
	for _, v := range varNames {
		if vars[v] == "" || vars[v] == "null" {
			return fmt.Errorf("$%s is %q after the block", v, vars[v])
		}
	}
	return nil
}

// step is one marked block (or a marker without a block).
type step struct {
	kind, name, code string
	line             int // of the marker, 1-based
}

var markerRE = regexp.MustCompile(`^<!-- try-out:(server|vars|run|stream|restart|stop)(?: ([a-z0-9-]+))? -->$`)

// parseTryOuts finds the marked blocks of the README.
func parseTryOuts(readme string) ([]step, error) {
	lines := strings.Split(readme, "\n")
	var steps []step
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			if strings.Contains(lines[i], "try-out:") && strings.HasPrefix(strings.TrimSpace(lines[i]), "<!--") {
				return nil, fmt.Errorf("README.md:%d: malformed try-out marker %q", i+1, lines[i])
			}
			continue
		}
		s := step{kind: m[1], name: m[2], line: i + 1}
		if s.kind == "restart" || s.kind == "stop" {
			steps = append(steps, s)
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j == len(lines) || strings.TrimSpace(lines[j]) != "```sh" {
			return nil, fmt.Errorf("README.md:%d: a try-out:%s marker must be followed by a ```sh block", i+1, s.kind)
		}
		var code []string
		for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			code = append(code, lines[j])
		}
		s.code = strings.Join(code, "\n")
		steps = append(steps, s)
		i = j
	}
	if len(steps) == 0 {
		return nil, errors.New("README.md has no try-out markers")
	}
	return steps, nil
}

// firstStart is what scimd prints on its first start.
type firstStart struct {
	text                      string
	id, scimToken, adminToken string
}

var (
	tenantURLRE  = regexp.MustCompile(`Tenant URL: +\S+/scim/v2/(\S+)`)
	scimTokenRE  = regexp.MustCompile(`Secret Token: +(\S+)`)
	adminTokenRE = regexp.MustCompile(`Admin Token: +(\S+)`)
)

func parseFirstStart(text string) (firstStart, error) {
	fs := firstStart{text: text}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
	}{{tenantURLRE, &fs.id}, {scimTokenRE, &fs.scimToken}, {adminTokenRE, &fs.adminToken}} {
		m := f.re.FindStringSubmatch(text)
		if m == nil {
			return fs, fmt.Errorf("no %s in %q", f.re, text)
		}
		*f.dst = m[1]
	}
	return fs, nil
}

// exampleFirstStart is the first start's output as README.md shows it:
// the ```text block with the Tenant URL.
func exampleFirstStart(readme string) (firstStart, error) {
	for _, block := range strings.Split(readme, "```text\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if strings.Contains(block, "Tenant URL:") {
			return parseFirstStart(block)
		}
	}
	return firstStart{}, errors.New("README.md shows no first-start output")
}

// session is the user's two terminals: the servers running in the first,
// the variables of the second.
type session struct {
	t               *testing.T
	dir, state, bin string
	env             []string
	port, fakePort  string
	rewrite         *strings.Replacer
	varNames        []string
	servers         map[string]string // server blocks by name, for restart
	running         []*proc
	firstStart      *firstStart
	example         firstStart // as README.md shows it
	spawned         int
}

func newSession(t *testing.T) *session {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race") // reuses what `go test -race` compiled
	}
	build := exec.Command(goCommand(), append(args, "./cmd/scimd", "./cmd/fakegraph")...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ss := &session{t: t, dir: t.TempDir(), bin: bin, port: freePort(t), fakePort: freePort(t), servers: map[string]string{}}
	ss.state = filepath.Join(ss.dir, ".try-out-state")
	ss.rewrite = strings.NewReplacer("localhost:8080", "127.0.0.1:"+ss.port, "127.0.0.1:8090", "127.0.0.1:"+ss.fakePort)
	shimDir := t.TempDir()
	shim := fmt.Sprintf(`#!/bin/sh
# go run ./cmd/NAME ...: the binaries TestReadmeTryOuts built from the tree.
if [ "$1" = run ]; then
  case "$2" in
  ./cmd/scimd) shift 2; exec %[1]q/scimd "$@" ;;
  ./cmd/fakegraph) shift 2; exec %[1]q/fakegraph -addr 127.0.0.1:%[2]s "$@" ;;
  esac
fi
echo "TestReadmeTryOuts: the README runs go $*, which the test does not know" >&2
exit 1
`, bin, ss.fakePort)
	if err := os.WriteFile(filepath.Join(shimDir, "go"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMD_") && !strings.HasPrefix(kv, "PATH=") {
			ss.env = append(ss.env, kv)
		}
	}
	ss.env = append(ss.env, "PATH="+shimDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SCIMD_ADDR=127.0.0.1:"+ss.port, "SCIMD_LOG_LEVEL=warn")
	if err := os.WriteFile(ss.state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range ss.running {
			p.kill()
			p.groupGone(5 * time.Second)
		}
	})
	return ss
}

var assignRE = regexp.MustCompile(`(?m)(?:^|[;(]\s*)([A-Z][A-Z0-9_]*)=`)

func (ss *session) do(s step) {
	t := ss.t
	where := fmt.Sprintf("README.md:%d (try-out:%s %s)", s.line, s.kind, s.name)
	code := ss.rewrite.Replace(s.code)
	for _, m := range assignRE.FindAllStringSubmatch(code, -1) {
		if !strings.HasPrefix(m[1], "SCIMD_") && !contains(ss.varNames, m[1]) {
			ss.varNames = append(ss.varNames, m[1])
		}
	}
	start := time.Now()
	defer func() { t.Logf("%s: done in %s", where, time.Since(start).Round(time.Millisecond)) }()
	switch s.kind {
	case "server":
		ss.servers[s.name] = code
		ss.start(where, s.name, code)
	case "restart":
		ss.stopScimd(where)
		code, ok := ss.servers[s.name]
		if !ok {
			t.Fatalf("%s: no server block %q before it", where, s.name)
		}
		ss.start(where, s.name, code)
	case "stop":
		ss.stopAll(where)
	case "vars":
		if ss.firstStart == nil {
			t.Fatalf("%s: no first start before it", where)
		}
		fs, example := *ss.firstStart, ss.example
		code = strings.NewReplacer(example.id, fs.id, example.scimToken, fs.scimToken, example.adminToken, fs.adminToken).Replace(code)
		if !strings.Contains(code, fs.id) || !strings.Contains(code, fs.scimToken) || !strings.Contains(code, fs.adminToken) {
			t.Fatalf("%s: the block does not use the example's id and tokens:\n%s", where, s.code)
		}
		ss.run(where, code)
	case "run":
		out := ss.run(where, code)
		if err := readmeChecks[s.name](out, ss.vars()); err != nil {
			t.Fatalf("%s: %v\n%s", where, err, out)
		}
	case "stream":
		p := ss.spawn(s.name, code, true)
		deadline := time.Now().Add(90 * time.Second)
		for {
			out := p.stdout()
			err := readmeChecks[s.name](out, ss.vars())
			if err == nil {
				break
			}
			if time.Now().After(deadline) || p.exited() {
				t.Fatalf("%s: %v after %s\nstdout:\n%s\nstderr:\n%s\nserver logs:\n%s", where, err, time.Since(deadline.Add(-90*time.Second)).Round(time.Second),
					out, p.stderr(), ss.serverLogs())
			}
			time.Sleep(200 * time.Millisecond)
		}
		p.interrupt() // Ctrl-C
		if err := p.wait(10 * time.Second); err != nil && !p.killedBySignal() {
			t.Errorf("%s: %v", where, err)
		}
	}
}

// run runs a block that ends, in the second terminal's shell, and returns
// its stdout.
func (ss *session) run(where, code string) string {
	p := ss.spawn("run", code, true)
	if err := p.wait(60 * time.Second); err != nil {
		ss.t.Fatalf("%s: %v\nscript:\n%s\nstdout:\n%s\nstderr:\n%s\nserver logs:\n%s", where, err, code, p.stdout(), p.stderr(), ss.serverLogs())
	}
	return p.stdout()
}

// spawn starts bash with the block, in its own process group. A block of
// the second terminal sources the variables the earlier blocks set and
// saves them afterwards.
func (ss *session) spawn(name, code string, secondTerminal bool) *proc {
	script := code
	if secondTerminal {
		var save strings.Builder
		save.WriteString("\n{\n")
		for _, v := range ss.varNames {
			fmt.Fprintf(&save, "  [ -z \"${%[1]s+x}\" ] || printf 'export %[1]s=%%q\\n' \"$%[1]s\"\n", v)
		}
		fmt.Fprintf(&save, "} > %q\n", ss.state)
		script = "set -eo pipefail\n. " + strconv.Quote(ss.state) + "\n" + code + save.String()
	}
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = ss.dir
	cmd.Env = ss.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Output goes to files, not pipes: a block may leave a background job
	// (the fake) that writes after bash has ended.
	ss.spawned++
	out := filepath.Join(ss.t.TempDir(), fmt.Sprintf("%02d-%s", ss.spawned, name))
	p := &proc{name: name, cmd: cmd, done: make(chan struct{}), outPath: out + ".stdout", errPath: out + ".stderr"}
	for _, f := range []struct {
		path string
		dst  *io.Writer
	}{{p.outPath, &cmd.Stdout}, {p.errPath, &cmd.Stderr}} {
		file, err := os.Create(f.path)
		if err != nil {
			ss.t.Fatal(err)
		}
		defer file.Close() // the child has its own descriptor
		*f.dst = file
	}
	if err := cmd.Start(); err != nil {
		ss.t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p
}

// vars reads the second terminal's variables.
func (ss *session) vars() map[string]string {
	p := ss.spawn("vars", `. `+strconv.Quote(ss.state)+`; for v in `+strings.Join(ss.varNames, " ")+`; do printf '%s\t%s\n' "$v" "${!v}"; done`, false)
	if err := p.wait(10 * time.Second); err != nil {
		ss.t.Fatalf("read variables: %v %s", err, p.stderr())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(p.stdout()))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
			vars[k] = v
		}
	}
	return vars
}

// start runs a server block in the background and waits until it serves.
func (ss *session) start(where, name, code string) {
	t := ss.t
	p := ss.spawn(name, code, false)
	ss.running = append(ss.running, p)
	isScimd := strings.Contains(code, "./cmd/scimd")
	p.scimd = isScimd
	deadline := time.Now().Add(60 * time.Second)
	for !ss.serving(isScimd) {
		// A block that starts a background job ends at once, and well.
		if p.exited() && p.err != nil || time.Now().After(deadline) {
			t.Fatalf("%s: the server did not start: %v\nstdout:\n%s\nstderr:\n%s", where, p.err, p.stdout(), p.stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !isScimd || ss.firstStart != nil {
		return
	}
	// The first start prints what the README shows, with this run's id,
	// tokens and port.
	out := p.stdout()
	fs, err := parseFirstStart(out)
	if err != nil {
		t.Fatalf("%s: first start: %v", where, err)
	}
	ss.firstStart = &fs
	want := strings.NewReplacer(ss.example.id, fs.id, ss.example.scimToken, fs.scimToken, ss.example.adminToken, fs.adminToken).
		Replace(ss.rewrite.Replace(ss.example.text))
	if strings.TrimSpace(out) != strings.TrimSpace(want) {
		t.Errorf("%s: the first start printed\n%s\nREADME.md shows (with this run's values)\n%s", where, out, want)
	}
}

func (ss *session) serving(scimd bool) bool {
	if !scimd {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+ss.fakePort, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+ss.port+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stopScimd presses Ctrl-C in the server's terminal: scimd shuts down
// cleanly and exits 0.
func (ss *session) stopScimd(where string) {
	var rest []*proc
	for _, p := range ss.running {
		if !p.scimd {
			rest = append(rest, p)
			continue
		}
		p.interrupt()
		if err := p.wait(20 * time.Second); err != nil {
			ss.t.Errorf("%s: scimd after Ctrl-C: %v\n%s", where, err, p.stderr())
		}
	}
	ss.running = rest
}

// stopAll stops scimd, then the rest (the fake, brought to the foreground
// and interrupted).
func (ss *session) stopAll(where string) {
	ss.stopScimd(where)
	for _, p := range ss.running {
		p.interrupt()
		if err := p.wait(10 * time.Second); err != nil && !p.killedBySignal() {
			ss.t.Errorf("%s: %s after Ctrl-C: %v", where, p.name, err)
		}
		p.groupGone(10 * time.Second)
	}
	ss.running = nil
}

func (ss *session) serverLogs() string {
	var b strings.Builder
	for _, p := range ss.running {
		fmt.Fprintf(&b, "--- %s\n%s", p.name, tail(p.stderr(), 40))
	}
	return b.String()
}

// proc is a bash running a block, with its process group.
type proc struct {
	name             string
	cmd              *exec.Cmd
	outPath, errPath string
	scimd            bool
	done             chan struct{}
	err              error
}

func (p *proc) stdout() string { b, _ := os.ReadFile(p.outPath); return string(b) }
func (p *proc) stderr() string { b, _ := os.ReadFile(p.errPath); return string(b) }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// interrupt is Ctrl-C: SIGINT to the block's process group.
func (p *proc) interrupt() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT) }

func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// groupGone waits until no process of the group is left (a background job
// outlives its bash), killing what is left after the timeout.
func (p *proc) groupGone(timeout time.Duration) {
	for deadline := time.Now().Add(timeout); syscall.Kill(-p.cmd.Process.Pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			return
		}
	}
}

// wait waits for the block to end; past the timeout it kills the group
// and reports it.
func (p *proc) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not end within %s", p.name, timeout)
	}
}

func (p *proc) killedBySignal() bool {
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) {
		return false
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	return ok && (ws.Signaled() || ws.ExitStatus() == 130)
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
