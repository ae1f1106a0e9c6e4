package module

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-fitbit/caddy-fitbit/internal/audit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/jsonlines"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redact"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokens"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
)

// POST /fitbit/import[?dry_run=true][&replace=true]: connections whose
// tokens the operator already holds, as JSON Lines (importLine), each
// checked with one refresh at the provider before it is stored
// (tokens.Manager.Import). The answer is JSON Lines too, one ImportResult
// per line as it is done, then an ImportSummary.
func init() {
	adminRoutes = append(adminRoutes, adminRoute{Method: "POST", Pattern: "/fitbit/import", Handle: adminImport})
}

const (
	// MaxImportBody bounds one import request (POST /fitbit/import). The whole body is read
	// before the first line is imported: Caddy's admin server allows 10
	// seconds to read a request, and Go's HTTP/1 server no reading once the
	// answer has begun. `caddy fitbit import` sends bigger files in parts.
	MaxImportBody = 4 << 20
	// MaxImportLine bounds one line: a few tokens and ids.
	MaxImportLine = 16 << 10
)

// importLine is one connection to import.
type importLine struct {
	// Identity is the gateway identity ({http.auth.user.id}) the
	// connection is stored under.
	Identity string `json:"identity"`
	// Provider is the registration name; default the app's default one.
	Provider     string `json:"provider,omitempty"`
	RefreshToken string `json:"refresh_token"`
	// AccessToken and Expiry are optional: the check's refresh replaces
	// them.
	AccessToken string    `json:"access_token,omitempty"`
	Expiry      time.Time `json:"expiry,omitzero"`
	// Scopes granted; the provider's answer to the refresh wins when it
	// names them.
	Scopes []string `json:"scopes,omitempty"`
	// UserID is the provider's user id (Google's healthUserId, Fitbit's
	// encoded id); Fitbit's refresh answer names it.
	UserID string `json:"user_id,omitempty"`
}

// ImportResult is what became of one line of an import: a line of the
// answer of POST /fitbit/import. It never holds a token or the identity.
type ImportResult struct {
	Line         int    `json:"line"`
	IdentityHash string `json:"identity_hash,omitempty"`
	Provider     string `json:"provider,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	// Status: "ok" (imported; in a dry run, the refresh token works),
	// "not_checked" (a dry run of a provider that rotates refresh tokens:
	// the line is well-formed, the token was not redeemed) or "failed".
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// ImportSummary is the last line of the answer of POST /fitbit/import.
type ImportSummary struct {
	Summary    bool `json:"summary"` // always true: tells this line from the results
	DryRun     bool `json:"dry_run"`
	Lines      int  `json:"lines"`
	OK         int  `json:"ok"`
	NotChecked int  `json:"not_checked"`
	Failed     int  `json:"failed"`
}

func adminImport(app *App, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	dryRun, err1 := queryBool(q.Get("dry_run"))
	replace, err2 := queryBool(q.Get("replace"))
	if err := errors.Join(err1, err2); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return caddy.APIError{HTTPStatus: http.StatusRequestEntityTooLarge,
				Err: fmt.Errorf("import body larger than %d bytes: send it in parts (caddy fitbit import does)", int64(MaxImportBody))}
		}
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("reading the import body: %w", err)}
	}

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	rc := http.NewResponseController(w)
	sum := ImportSummary{Summary: true, DryRun: dryRun}
	lines := jsonlines.NewReader(bytes.NewReader(body), MaxImportLine)
	for n := 1; r.Context().Err() == nil; n++ {
		line, tooLong, err := lines.Next()
		if err == io.EOF && len(line) == 0 && !tooLong {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 && !tooLong {
			continue // a blank line is no connection
		}
		res := ImportResult{Line: n}
		if tooLong {
			res.Status, res.Reason = "failed", fmt.Sprintf("line longer than %d bytes", MaxImportLine)
		} else {
			res = app.importOne(r, n, line, dryRun, replace)
		}
		switch res.Status {
		case "ok":
			sum.OK++
		case "not_checked":
			sum.NotChecked++
		default:
			sum.Failed++
		}
		sum.Lines++
		_ = enc.Encode(res)
		_ = rc.Flush()
	}
	_ = enc.Encode(sum)
	return nil
}

// importOne imports (or checks) line n.
func (a *App) importOne(r *http.Request, n int, raw []byte, dryRun, replace bool) ImportResult {
	res := ImportResult{Line: n, Status: "failed"}
	var line importLine
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&line); err != nil {
		res.Reason = jsonProblem(err).Error()
		return res
	}
	m, err := a.manager(line.Provider)
	switch {
	case err != nil:
		res.Reason = err.Error()
		return res
	case line.Identity == "":
		res.Reason = "identity is empty"
		return res
	case line.RefreshToken == "":
		res.Reason = "refresh_token is empty"
		return res
	}
	res.IdentityHash, res.Provider = tokenstore.IdentityHash(line.Identity), m.Provider().Reg.Name
	rec := &tokenstore.Record{UserID: line.UserID, Scopes: line.Scopes, AccessToken: line.AccessToken, RefreshToken: line.RefreshToken,
		TokenType: "Bearer", Expiry: line.Expiry}
	if dryRun {
		err = m.CheckImport(r.Context(), line.Identity, rec, replace)
		if errors.Is(err, tokens.ErrNotChecked) {
			res.Status, res.Reason, res.UserID = "not_checked", err.Error(), line.UserID
			return res
		}
	} else {
		var stored *tokenstore.Record
		if stored, err = m.Import(r.Context(), line.Identity, rec, replace); err == nil {
			res.UserID = stored.UserID
			a.logger.Info("imported a connection", zap.String("provider", res.Provider), zap.String("identity_hash", res.IdentityHash), zap.String("user_id", stored.UserID))
			a.Audit(r, audit.Entry{Action: audit.Import, Provider: res.Provider, IdentityHash: res.IdentityHash, UserID: stored.UserID, Result: "imported", Count: 1})
		}
	}
	if err != nil {
		res.Reason = scrubImport(importReason(err), line)
		return res
	}
	if res.UserID == "" {
		res.UserID = line.UserID
	}
	res.Status = "ok"
	return res
}

// importReason is the sentence a line's failure is reported with.
func importReason(err error) string {
	switch {
	case errors.Is(err, tokens.ErrExists):
		return "a connection is stored for this identity already: import with replace (caddy fitbit import --replace) to overwrite it"
	case errors.Is(err, tokens.ErrNeedsReauth):
		return "the provider refused the refresh token (invalid_grant): it is revoked, expired, or was issued to another client"
	}
	return err.Error()
}

// scrubImport keeps line's tokens out of a reason, whatever put them there.
func scrubImport(reason string, line importLine) string {
	reason = redact.Scrub(reason)
	for _, t := range []string{line.RefreshToken, line.AccessToken} {
		if t != "" {
			reason = strings.ReplaceAll(reason, t, "[REDACTED]")
		}
	}
	return reason
}

// queryBool reads a boolean query parameter ("" is false).
func queryBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true or false)", s)
	}
	return b, nil
}
