package server

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's browser tests drive Debian's Chromium, headless, against
// a real scimd on loopback. One browser serves the whole test binary;
// each test gets a fresh browser context (its own cookies). Without
// Chromium they skip, saying so, unless SCIMD_TEST_BROWSER=require (CI),
// which fails them instead.

// chromiumPath is Debian's chromium package's binary.
const chromiumPath = "/usr/bin/chromium"

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel []context.CancelFunc
	dir    string
	err    error
}

// closeBrowser stops the shared browser, after the last test.
func closeBrowser() {
	for i := len(browser.cancel) - 1; i >= 0; i-- {
		browser.cancel[i]()
	}
	if browser.dir != "" {
		// Chromium's children may still write for a moment after it stops.
		for range 50 {
			if os.RemoveAll(browser.dir) == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// newTab returns a browser tab of its own browser context, closed when
// the test ends, at the 1280 px desktop width.
func newTab(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("SCIMD_TEST_BROWSER") == "require" {
			t.Fatalf("SCIMD_TEST_BROWSER=require but %s is missing: apt-get install -y chromium", chromiumPath)
		}
		t.Skipf("browser tests skipped: %s is missing (apt-get install -y chromium; SCIMD_TEST_BROWSER=require fails instead)", chromiumPath)
	}
	browser.once.Do(func() {
		browser.dir, browser.err = os.MkdirTemp("", "scimd-chromium-")
		if browser.err != nil {
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromiumPath),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.UserDataDir(browser.dir),
			chromedp.WindowSize(1280, 900),
		)
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(alloc)
		browser.ctx, browser.cancel = ctx, []context.CancelFunc{cancelAlloc, cancelCtx}
		browser.err = chromedp.Do(ctx) // starts it
	})
	if browser.err != nil {
		t.Fatalf("start %s: %v", chromiumPath, browser.err)
	}
	tctx, cancelTimeout := context.WithTimeout(browser.ctx, 60*time.Second)
	ctx, cancelTab := chromedp.NewContext(tctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() { cancelTab(); cancelTimeout() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// startBrowserServer starts scimd on a loopback port that is also its
// SCIMD_PUBLIC_URL, as a browser must reach the URLs scimd builds (the
// consent redirect, setup links).
func startBrowserServer(t *testing.T, opts testOptions) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	config := opts.config
	opts.config = func(c *Config) {
		c.Addr, c.PublicURL = addr, "http://"+addr
		c.LogLevel = slog.LevelWarn
		if config != nil {
			config(c)
		}
	}
	return startServer(t, opts)
}

// do runs browser actions, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks a form's button and waits for the page it leads to.
func submit(t *testing.T, ctx context.Context, what, button string) {
	t.Helper()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

// value returns the value of an input.
func value(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("value of %s: %v", css, err)
	}
	return s
}

// location is the tab's URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn signs the tab in to the console with the admin token.
func signIn(t *testing.T, ctx context.Context, s *testServer, token string) {
	t.Helper()
	do(t, ctx, "open sign-in", chromedp.Navigate(s.url+"/console/sign-in"),
		chromedp.SendKeys(chromedp.ID("token"), token))
	submit(t, ctx, "sign in", "form[action='/console/sign-in'] button")
}

// screenshot saves the page at 1280 and 390 px wide into
// $SCIMD_SCREENSHOTS/name-1280.png and name-390.png, when that is set
// (README's screenshots come from here).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SCIMD_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []int64{1280, 390} {
		h := int64(900)
		if w == 390 {
			h = 844
		}
		var opts []chromedp.EmulateViewportOption
		if w == 390 {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateScale(1))
		}
		do(t, ctx, "resize", chromedp.EmulateViewport(w, h, opts...), chromedp.Sleep(100*time.Millisecond))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+strconv.FormatInt(w, 10)+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do(t, ctx, "resize back", chromedp.EmulateViewport(1280, 900))
}
