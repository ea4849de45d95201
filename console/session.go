package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/scimd/scimd/api"
	"github.com/scimd/scimd/store"
)

// Cookie names. The session cookie holds the session's secret id; the
// store keeps its hash. The pre-session cookie carries the CSRF token of
// the sign-in forms, before there is a session to derive one from.
const (
	sessionCookie    = "scimd_console"
	preSessionCookie = "scimd_console_pre"
)

// touchEvery is how stale LastSeen may get before a request records its
// activity: a write per page view would be a write per click.
const touchEvery = time.Minute

// Session is a signed-in browser.
type Session struct {
	store.ConsoleSession
	// CSRF is the token every state-changing form of this session
	// carries: derived from the session's secret id, so it is never
	// stored and dies with the session.
	CSRF string
}

// Scoped reports whether the session is a setup link's, limited to one
// directory.
func (s *Session) Scoped() bool { return s.DirectoryID != "" }

// csrfToken derives a session's CSRF token from its secret id.
func csrfToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("scimd console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameToken compares two tokens in constant time.
func sameToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// startSession signs the browser in: a new session in the store and its
// cookie. directoryID and linkID scope it to a setup link's directory.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, directoryID, linkID string, until time.Time) error {
	now := c.cfg.Now()
	expires := now.Add(c.cfg.SessionLifetime)
	if !until.IsZero() && until.Before(expires) {
		expires = until
	}
	secret, hash := store.NewToken("")
	// A session the browser had is replaced, not kept beside the new one.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		if err := c.store.DeleteConsoleSession(r.Context(), store.HashToken(old.Value)); err != nil {
			return err
		}
	}
	_, err := c.store.CreateConsoleSession(r.Context(), store.ConsoleSession{
		Hash: hash, ID: uuid.NewString(), DirectoryID: directoryID, SetupLinkID: linkID, LastSeen: now, Expires: expires,
	})
	if err != nil {
		return err
	}
	http.SetCookie(w, c.cookie(sessionCookie, secret, expires))
	http.SetCookie(w, c.cookie(preSessionCookie, "", time.Time{})) // done with it
	return nil
}

// cookie builds one of the console's cookies; an empty value deletes it.
func (c *Console) cookie(name, value string, expires time.Time) *http.Cookie {
	ck := &http.Cookie{
		Name: name, Value: value, Path: Prefix,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
	}
	switch {
	case value == "":
		ck.MaxAge = -1
	case !expires.IsZero():
		ck.Expires = expires
	}
	return ck
}

// errNoSession: the request has no session that still works.
var errNoSession = errors.New("no session")

// session returns the request's session, recording its activity, or
// errNoSession when it has none, or one that expired (absolute or idle).
func (c *Console) session(ctx context.Context, r *http.Request) (*Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errNoSession
	}
	hash := store.HashToken(ck.Value)
	cs, err := c.store.ConsoleSessionByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	if !now.Before(cs.Expires) || now.Sub(cs.LastSeen) >= c.cfg.IdleTimeout {
		if err := c.store.DeleteConsoleSession(ctx, hash); err != nil {
			return nil, err
		}
		return nil, errNoSession
	}
	if now.Sub(cs.LastSeen) >= touchEvery {
		err := c.store.TouchConsoleSession(ctx, hash, now)
		if errors.Is(err, store.ErrNotFound) { // signed out meanwhile
			return nil, errNoSession
		}
		if err != nil {
			return nil, err
		}
	}
	return &Session{ConsoleSession: cs, CSRF: csrfToken(ck.Value)}, nil
}

// guard is the one place that decides who may open a route: it loads
// the session, checks the CSRF token of every state-changing request,
// and keeps a setup link's session inside its directory. A directory
// route's directory is read here and handed on (DirectoryFrom).
func (c *Console) guard(a access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sess, err := c.session(ctx, r)
		switch {
		case errors.Is(err, errNoSession):
			sess = nil
		case err != nil:
			c.internalError(w, r, "read console session", err)
			return
		}
		if sess != nil {
			ctx = context.WithValue(ctx, sessionKey, sess)
			ctx = store.WithActor(ctx, actorOf(sess))
		}
		if a == public {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		if sess == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				to := Prefix + "/sign-in?next=" + urlQueryEscape(r.URL.Path)
				if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
					to += "&ended=1" // the browser had a session: say why it must sign in again
					http.SetCookie(w, c.cookie(sessionCookie, "", time.Time{}))
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			c.forbidden(w, r, "Your session has ended. Sign in again, then repeat what you were doing.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameToken(r.PostFormValue("csrf"), sess.CSRF) {
			c.log.WarnContext(ctx, "console form refused: missing or wrong CSRF token", "remote_addr", r.RemoteAddr)
			c.forbidden(w, r, "This form has expired or did not come from this console. Go back, reload the page and try again.")
			return
		}
		if a == operator && sess.Scoped() {
			c.outOfScope(w, r, sess)
			return
		}
		if id, ok := routeDirectoryID(r); ok {
			if sess.Scoped() && id != sess.DirectoryID {
				c.outOfScope(w, r, sess)
				return
			}
			d, err := c.admin.GetDirectory(ctx, id)
			if err != nil {
				c.fail(w, r, "read directory", err)
				return
			}
			ctx = context.WithValue(ctx, directoryKey, d)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// outOfScope answers a setup link's session that asked for a page
// outside its directory: the same answer whatever the page, so that it
// learns nothing about other directories.
func (c *Console) outOfScope(w http.ResponseWriter, r *http.Request, s *Session) {
	c.log.WarnContext(r.Context(), "console: a setup link's session asked for a page outside its directory",
		"setup_link_id", s.SetupLinkID, "directory_id", s.DirectoryID)
	c.renderStatus(w, r, http.StatusForbidden, "message.html", &Page{
		Title:   "Not part of this setup link",
		Message: "Your setup link opens one directory only. This page is not part of it.",
		Next:    &Link{Label: "Back to your directory", Href: Prefix + "/directories/" + s.DirectoryID},
	})
}

// problemMessage is how the console words a refusal of the admin API
// for a person: its status and message; false for an internal error.
func problemMessage(err error) (int, string, bool) {
	if p := api.AsProblem(err); p != nil {
		return p.Status, p.Message, true
	}
	return 0, "", false
}

func problemOf(err error) *api.Problem { return api.AsProblem(err) }
