package simkit

import (
	"io"
	"net/http"
)

// RecordedRequest is one data-API request as a simulator received it.
type RecordedRequest struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header // a clone, Authorization included
	Body     []byte      // the raw body (up to the simulator's body limit)
	UserID   string      // the user the simulator attributed the request to, if any
	Status   int         // the status the simulator answered
}

// StatusWriter remembers the first status a handler answered and reports
// it to OnStatus before anything of the response is written.
type StatusWriter struct {
	http.ResponseWriter
	Status   int       // 0 until the handler answers
	OnStatus func(int) // optional
}

// WriteHeader notes code, then writes it.
func (w *StatusWriter) WriteHeader(code int) {
	w.SetStatus(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write notes an implicit 200, then writes b.
func (w *StatusWriter) Write(b []byte) (int, error) {
	w.SetStatus(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// SetStatus notes code as the answer unless one was noted already.
func (w *StatusWriter) SetStatus(code int) {
	if w.Status != 0 {
		return
	}
	w.Status = code
	if w.OnStatus != nil {
		w.OnStatus(code)
	}
}

// Recording is a request being served whose RecordedRequest goes to a log,
// with the status answered, before the response leaves: a test that has
// read the response always finds the request recorded.
type Recording struct {
	W        *StatusWriter   // answer through W
	Req      RecordedRequest // filled in but for UserID and Status
	Body     []byte          // the request body, cut at the limit
	TooLarge bool            // the body was longer than the limit
	ReadErr  error           // reading the body failed
}

// Record reads r's body (up to maxBody bytes) and starts a Recording of r
// into log. Defer Finish.
func Record(w http.ResponseWriter, r *http.Request, maxBody int, log *Log[RecordedRequest]) *Recording {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
	rc := &Recording{Body: body, ReadErr: err}
	if len(body) > maxBody {
		rc.TooLarge = true
		rc.Body = body[:maxBody]
	}
	rc.Req = RecordedRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     rc.Body,
	}
	rc.W = &StatusWriter{ResponseWriter: w, OnStatus: func(code int) {
		rc.Req.Status = code
		log.Add(rc.Req)
	}}
	return rc
}

// Finish records a request whose handler wrote nothing as answered 200.
func (rc *Recording) Finish() { rc.W.SetStatus(http.StatusOK) }
