package console

import (
	"net/http"
	"strings"

	"github.com/scimd/scimd/presence"
)

// attributeMapping is a row of Entra's attribute-mapping table, in the
// words of Provisioning → Mappings.
type attributeMapping struct {
	Target, Source, Notes string
}

// userMappings and groupMappings are README's "Connect Microsoft Entra
// ID" tables, steps 5 and 6.
var userMappings = []attributeMapping{
	{"userName", "userPrincipalName", "Matching attribute, precedence 1; required"},
	{"externalId", "objectId", "Change Entra's default (mailNickname) to objectId: Teams presence needs it"},
	{"active", `Switch([IsSoftDeleted], , "False", "True", "True", "False")`, "Expression (Entra's default)"},
	{"displayName", "displayName", ""},
	{"title", "jobTitle", ""},
	{`emails[type eq "work"].value`, "mail", ""},
	{"name.givenName", "givenName", "Given or family name required by default"},
	{"name.familyName", "surname", ""},
	{`phoneNumbers[type eq "work"].value`, "telephoneNumber", "Required by default, E.164, e.g. +14255550100"},
	{`phoneNumbers[type eq "mobile"].value`, "mobile", "E.164 when present"},
	{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "department", ""},
	{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "employeeId", ""},
	{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "manager", "Reference to the manager's user"},
}

var groupMappings = []attributeMapping{
	{"displayName", "displayName", "Matching attribute, precedence 1"},
	{"externalId", "objectId", ""},
	{"members", "members", ""},
}

// presenceStepData is the wizard's Teams presence step.
type presenceStepData struct {
	Available        bool // the server runs the presence service
	ConsentAvailable bool // scimd's multi-tenant app is configured
	Status           *presence.Status
	StatusLabel      string
	// The customer's app form, as sent back after a refusal (never the
	// secret).
	TenantID, ClientID string
	// Microsoft is what Microsoft said when it refused the credentials.
	Microsoft []detail
}

type detail struct{ Name, Value string }

func (c *Console) presenceStepPage(w http.ResponseWriter, r *http.Request) {
	c.renderPresenceStep(w, r, http.StatusOK, "", presenceStepData{})
}

func (c *Console) renderPresenceStep(w http.ResponseWriter, r *http.Request, status int, errMsg string, data presenceStepData) {
	d := DirectoryFrom(r.Context())
	data.Available, data.ConsentAvailable = c.admin.PresenceAvailable(), c.admin.ConsentAvailable()
	if data.Available {
		st, err := c.admin.PresenceStatus(r.Context(), d.ID)
		if err != nil {
			c.fail(w, r, "read presence status", err)
			return
		}
		data.Status, data.StatusLabel = &st, presenceLabel(st.State)
	}
	c.renderStatus(w, r, status, "presence_step.html", &Page{Title: "Teams presence", Active: "setup", Error: errMsg, Data: data})
}

// startConsent sends the browser to Microsoft's admin-consent prompt for
// scimd's multi-tenant app; Microsoft sends it back to the consent
// callback, which links back here.
func (c *Console) startConsent(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	u, err := c.admin.StartConsent(r.Context(), d.ID)
	if err != nil {
		if _, msg, ok := problemMessage(err); ok {
			c.renderPresenceStep(w, r, http.StatusBadRequest, msg, presenceStepData{})
			return
		}
		c.internalError(w, r, "start presence consent", err)
		return
	}
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// connectPresence connects with the customer's own app registration.
func (c *Console) connectPresence(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	creds := presence.Credentials{
		TenantID:     r.PostFormValue("tenantId"),
		ClientID:     r.PostFormValue("clientId"),
		ClientSecret: r.PostFormValue("clientSecret"),
	}
	if _, err := c.admin.ConnectPresence(r.Context(), d.ID, creds); err != nil {
		p := problemOf(err)
		if p == nil {
			c.internalError(w, r, "connect presence", err)
			return
		}
		data := presenceStepData{TenantID: strings.TrimSpace(creds.TenantID), ClientID: strings.TrimSpace(creds.ClientID)}
		if ms := p.Microsoft; ms != nil {
			data.Microsoft = []detail{{"HTTP status", http.StatusText(ms.HTTPStatus)}, {"Microsoft error", ms.Error}}
			if ms.AADSTS != "" {
				data.Microsoft = append(data.Microsoft, detail{"AADSTS code", ms.AADSTS})
			}
			if ms.TraceID != "" {
				data.Microsoft = append(data.Microsoft, detail{"Trace ID", ms.TraceID})
			}
			if ms.CorrelationID != "" {
				data.Microsoft = append(data.Microsoft, detail{"Correlation ID", ms.CorrelationID})
			}
		}
		c.renderPresenceStep(w, r, p.Status, p.Message, data)
		return
	}
	http.Redirect(w, r, Prefix+"/directories/"+d.ID+"/setup/done", http.StatusSeeOther)
}

// doneData is the wizard's last step.
type doneData struct {
	TenantURL     string
	Presence      *presence.Status
	PresenceLabel string
}

func (c *Console) donePage(w http.ResponseWriter, r *http.Request) {
	d := DirectoryFrom(r.Context())
	data := doneData{TenantURL: d.SCIMBaseURL}
	if c.admin.PresenceAvailable() {
		st, err := c.admin.PresenceStatus(r.Context(), d.ID)
		if err != nil {
			c.fail(w, r, "read presence status", err)
			return
		}
		data.Presence, data.PresenceLabel = &st, presenceLabel(st.State)
	}
	c.render(w, r, "done.html", &Page{Title: "Setup complete", Active: "setup", Data: data})
}
