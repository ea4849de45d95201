package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBrowserSignIn: a wrong admin token is refused with a message
// and slows the address down; the right one, once the wait is over,
// opens the directories list; signing out ends the session.
func TestConsoleBrowserSignIn(t *testing.T) {
	s := startBrowserServer(t, testOptions{})
	ctx := newTab(t)

	// The server's root sends a browser to the console, which asks to sign in.
	do(t, ctx, "open the root", chromedp.Navigate(s.url+"/"))
	if u := location(t, ctx); u != s.url+"/console/sign-in" {
		t.Fatalf("root led to %s, want the sign-in page", u)
	}
	screenshot(t, ctx, "sign-in")

	signIn(t, ctx, s, "not-the-admin-token-at-all")
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "not the admin token") {
		t.Fatalf("wrong token: alert %q", msg)
	}
	// Straight after a wrong token, even the right one waits.
	do(t, ctx, "type the token", chromedp.SendKeys(chromedp.ID("token"), testAdminToken))
	submit(t, ctx, "sign in too soon", "form[action='/console/sign-in'] button")
	if msg := text(t, ctx, ".alert"); !strings.Contains(msg, "Too many wrong attempts") {
		t.Fatalf("right token straight after a wrong one: alert %q", msg)
	}
	if !strings.Contains(s.logs.String(), "console sign-in refused: wrong admin token") || strings.Contains(s.logs.String(), "not-the-admin-token") {
		t.Error("a refused sign-in is logged, without the token")
	}

	time.Sleep(1100 * time.Millisecond) // the first wrong token's wait
	signIn(t, ctx, s, testAdminToken)
	if u := location(t, ctx); u != s.url+"/console/directories" {
		t.Fatalf("signed in to %s, want the directories list", u)
	}
	if h := text(t, ctx, "main h1"); h != "Directories" {
		t.Fatalf("heading %q", h)
	}
	// The first start's directory is listed, waiting for Entra.
	if row := text(t, ctx, "table.list tbody tr"); !strings.Contains(row, "default") || !strings.Contains(row, "Waiting for Entra") {
		t.Errorf("directories list row %q", row)
	}
	screenshot(t, ctx, "directories")

	submit(t, ctx, "sign out", "form[action='/console/sign-out'] button")
	if h := text(t, ctx, "main h1"); h != "Signed out" {
		t.Fatalf("after sign-out: %q", h)
	}
	do(t, ctx, "open the list again", chromedp.Navigate(s.url+"/console/directories"))
	if u := location(t, ctx); !strings.HasPrefix(u, s.url+"/console/sign-in") {
		t.Fatalf("after sign-out the list opened %s", u)
	}
}
