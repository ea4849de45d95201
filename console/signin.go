package console

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

// home sends the browser where it belongs: the operator to the
// directories, a setup link's session to its directory, anyone else to
// sign in.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	switch s := SessionFrom(r.Context()); {
	case s == nil:
		http.Redirect(w, r, Prefix+"/sign-in", http.StatusSeeOther)
	case s.Scoped():
		http.Redirect(w, r, Prefix+"/directories/"+s.DirectoryID, http.StatusSeeOther)
	default:
		http.Redirect(w, r, Prefix+"/directories", http.StatusSeeOther)
	}
}

// preSessionToken returns the CSRF token of the sign-in forms, setting
// its cookie if the browser has none: a form without a session still
// proves that it came from a console page (no signing a victim in to a
// session of the attacker's).
func (c *Console) preSessionToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(preSessionCookie); err == nil && len(ck.Value) >= 32 {
		return ck.Value
	}
	tok, _ := store.NewToken("")
	http.SetCookie(w, c.cookie(preSessionCookie, tok, time.Time{}))
	return tok
}

// preSessionValid checks a sign-in form's token against its cookie.
func preSessionValid(r *http.Request) bool {
	ck, err := r.Cookie(preSessionCookie)
	return err == nil && sameToken(r.PostFormValue("csrf"), ck.Value)
}

type signInData struct {
	CSRF string
	Next string
}

func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s := SessionFrom(r.Context()); s != nil && !s.Scoped() {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, "signin.html", &Page{Title: "Sign in", Session: nil,
		Data: signInData{CSRF: c.preSessionToken(w, r), Next: r.URL.Query().Get("next")}})
}

// signIn checks the admin token. Wrong tokens are refused with a message
// and slow the address down (limiter); the token is never logged.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	data := signInData{CSRF: c.preSessionToken(w, r), Next: r.PostFormValue("next")}
	refuse := func(status int, msg string) {
		c.renderStatus(w, r, status, "signin.html", &Page{Title: "Sign in", Error: msg, Data: data})
	}
	if !preSessionValid(r) {
		refuse(http.StatusForbidden, "This sign-in form has expired. Enter the admin token again.")
		return
	}
	addr := clientAddress(r)
	if d := c.limiter.wait(addr); d > 0 {
		refuse(http.StatusTooManyRequests, tooManyAttempts(d))
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if len(c.cfg.AdminTokenHash) == 0 || !store.TokenMatches(token, c.cfg.AdminTokenHash) {
		d := c.limiter.fail(addr)
		c.log.WarnContext(r.Context(), "console sign-in refused: wrong admin token", "remote_addr", r.RemoteAddr, "backoff", d)
		refuse(http.StatusUnauthorized, fmt.Sprintf(
			"That is not the admin token. Check it and try again in %s (each wrong token makes the wait longer).", roundUp(d)))
		return
	}
	c.limiter.succeed(addr)
	if err := c.startSession(w, r, "", "", time.Time{}); err != nil {
		c.internalError(w, r, "start console session", err)
		return
	}
	c.log.InfoContext(r.Context(), "console sign-in", "remote_addr", r.RemoteAddr)
	http.Redirect(w, r, safeNext(data.Next), http.StatusSeeOther)
}

func tooManyAttempts(d time.Duration) string {
	return fmt.Sprintf("Too many wrong attempts from your address. Try again in %s.", roundUp(d))
}

// roundUp words a wait in whole seconds, at least one.
func roundUp(d time.Duration) string {
	s := int(math.Ceil(d.Seconds()))
	if s <= 1 {
		return "1 second"
	}
	if s < 120 {
		return fmt.Sprintf("%d seconds", s)
	}
	return fmt.Sprintf("%d minutes", (s+59)/60)
}

// safeNext is where to go after signing in: a console page, never
// another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "/..") ||
		strings.HasPrefix(next, Prefix+"/sign-") || strings.HasPrefix(next, Prefix+"/setup/") {
		return Prefix + "/directories"
	}
	return next
}

// signOut ends the session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	s := SessionFrom(r.Context())
	if s != nil {
		if !sameToken(r.PostFormValue("csrf"), s.CSRF) {
			c.forbidden(w, r, "This form has expired or did not come from this console. Go back, reload the page and try again.")
			return
		}
		if err := c.store.DeleteConsoleSession(r.Context(), s.Hash); err != nil {
			c.internalError(w, r, "sign out", err)
			return
		}
	}
	http.SetCookie(w, c.cookie(sessionCookie, "", time.Time{}))
	c.renderStatus(w, r, http.StatusOK, "message.html", &Page{Title: "Signed out", Session: &Session{},
		Message: "You are signed out of the scimd console.", Next: &Link{Label: "Sign in again", Href: Prefix + "/sign-in"}})
}

type setupLandingData struct {
	CSRF      string
	Directory api.Directory
	Expires   time.Time
}

// setupLanding is the page a setup link opens: it says which directory
// the link sets up and asks to continue. Opening the link changes
// nothing, so that a mail scanner or a chat preview that fetches it
// signs nobody in; Continue posts the form that does.
func (c *Console) setupLanding(w http.ResponseWriter, r *http.Request) {
	l, d, ok := c.setupLink(w, r)
	if !ok {
		return
	}
	c.render(w, r, "setup_landing.html", &Page{Title: "Set up " + d.Name, Session: &Session{},
		Data: setupLandingData{CSRF: c.preSessionToken(w, r), Directory: d, Expires: l.Expires}})
}

// openSetupLink signs the customer's admin in to the link's directory.
func (c *Console) openSetupLink(w http.ResponseWriter, r *http.Request) {
	if !preSessionValid(r) {
		c.forbidden(w, r, "This form has expired. Open your setup link again.")
		return
	}
	l, d, ok := c.setupLink(w, r)
	if !ok {
		return
	}
	if err := c.startSession(w, r, d.ID, l.ID, l.Expires); err != nil {
		c.internalError(w, r, "start console session", err)
		return
	}
	c.log.InfoContext(r.Context(), "console sign-in with a setup link", "directory_id", d.ID, "setup_link_id", l.ID,
		"remote_addr", r.RemoteAddr)
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"/setup", http.StatusSeeOther)
}

// setupLink reads the request's setup link and its directory, or answers
// why it does not work; wrong secrets slow the address down as wrong
// admin tokens do.
func (c *Console) setupLink(w http.ResponseWriter, r *http.Request) (store.SetupLink, api.Directory, bool) {
	addr := clientAddress(r)
	if d := c.limiter.wait(addr); d > 0 {
		c.message(w, r, http.StatusTooManyRequests, "Try again later", tooManyAttempts(d), nil)
		return store.SetupLink{}, api.Directory{}, false
	}
	l, err := c.admin.OpenSetupLink(r.Context(), mux.Vars(r)["secret"])
	if err != nil {
		if p := api.AsProblem(err); p != nil {
			d := c.limiter.fail(addr)
			c.log.WarnContext(r.Context(), "console: setup link refused (unknown, revoked or expired)", "remote_addr", r.RemoteAddr, "backoff", d)
			c.message(w, r, p.Status, "This setup link does not work", p.Message, nil)
		} else {
			c.internalError(w, r, "open setup link", err)
		}
		return store.SetupLink{}, api.Directory{}, false
	}
	d, err := c.admin.GetDirectory(r.Context(), l.DirectoryID)
	if err != nil {
		c.fail(w, r, "open setup link", err)
		return store.SetupLink{}, api.Directory{}, false
	}
	c.limiter.succeed(addr)
	return l, d, true
}
