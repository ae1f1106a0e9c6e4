package connect

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// maxAcceptLen bounds the Accept header read; browsers send ~150 bytes.
const maxAcceptLen = 2048

// prefersHTML reports whether r's Accept header (RFC 9110 §12.5.1) ranks
// text/html (or XHTML) above application/json, so that the same URL is the
// connections page in a browser and the status JSON for curl (*/*) and
// apps. A wildcard counts for neither: it says nothing of a preference.
func prefersHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if len(accept) > maxAcceptLen {
		accept = accept[:maxAcceptLen]
	}
	var html, json float64 = -1, -1
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		switch mt {
		case "text/html", "application/xhtml+xml":
			html = max(html, q)
		case "application/json":
			json = max(json, q)
		}
	}
	return html > 0 && html > json
}
