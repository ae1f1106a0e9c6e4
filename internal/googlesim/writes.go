package googlesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// writableTypes are the data types the simulator accepts create and
// batchDelete for: the identifiable body measurements Fitbit apps log.
var writableTypes = []string{"weight", "body-fat"}

// maxBatchDelete is BatchDeleteDataPointsRequest's documented limit.
const maxBatchDelete = 10000

// overlay is one user's writes on top of the generated data: points
// created through the API, by data type, and the names of deleted
// generated points. It lives in userState, under Server.mu.
type overlay struct {
	created map[string][]listed // by data type
	deleted map[string]bool     // names of deleted generated points
}

// listed is a point as a list answers it: a generated one (name "") or
// one written through the API, with its own name and data source.
type listed struct {
	point
	name   string
	source map[string]any
}

func (l listed) json(p *person.Person, user, typ string) map[string]any {
	dp := dataPointJSON(p, user, typ, l.point)
	if l.name != "" {
		dp["name"], dp["dataSource"] = l.name, l.source
	}
	return dp
}

// written returns pts, the user's generated points of typ newest first,
// with the user's writes applied: deleted points removed and the created
// ones that keep accepts added, newest first.
func (s *Server) written(user, typ string, pts []point, keep func(point) bool) []listed {
	s.mu.Lock()
	defer s.mu.Unlock()
	var o overlay
	if u := s.byUser[user]; u != nil {
		o = u.written
	}
	out := make([]listed, 0, len(pts)+len(o.created[typ]))
	for _, p := range pts {
		if !o.deleted[generatedName(user, typ, p)] {
			out = append(out, listed{point: p})
		}
	}
	if len(o.created[typ]) == 0 {
		return out
	}
	for _, p := range o.created[typ] {
		if keep(p.point) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b listed) int { return b.start.Compare(a.start) })
	return out
}

// writeArea is the area of a write route's data type; batchDelete also
// accepts "-" (names of any type), whose writable types are all metrics.
func writeArea(m []string) (string, bool) {
	if m[2] == "-" {
		return AreaMetrics, true
	}
	return typeArea(m)
}

// Operation is google.longrunning.Operation, which create and batchDelete
// answer. The simulator completes writes at once, so done is always true.
type Operation struct {
	Name     string         `json:"name"`
	Done     bool           `json:"done"`
	Response map[string]any `json:"response,omitempty"`
}

func operation(response map[string]any) Operation {
	return Operation{Name: "operations/" + simkit.RandomHex(12), Done: true, Response: response}
}

// writtenSample is the body of a weight or body-fat data point a client
// sends. Output-only fields (civilTime) are accepted and ignored, as
// Google does.
type writtenSample struct {
	SampleTime *struct {
		PhysicalTime string          `json:"physicalTime"`
		UTCOffset    string          `json:"utcOffset"`
		CivilTime    json.RawMessage `json:"civilTime,omitempty"`
	} `json:"sampleTime"`
	WeightGrams *float64 `json:"weightGrams,omitempty"`
	Percentage  *float64 `json:"percentage,omitempty"`
	Notes       string   `json:"notes,omitempty"`
}

// createBody is a DataPoint as create receives it.
type createBody struct {
	Name       string `json:"name,omitempty"`
	DataSource *struct {
		RecordingMethod string          `json:"recordingMethod,omitempty"`
		Device          json.RawMessage `json:"device,omitempty"`
		Platform        string          `json:"platform,omitempty"`    // output only
		Application     json.RawMessage `json:"application,omitempty"` // output only
	} `json:"dataSource,omitempty"`
	Weight  *writtenSample `json:"weight,omitempty"`
	BodyFat *writtenSample `json:"bodyFat,omitempty"`
}

// clientID is a client-provided data point id, per DataPoint.name in
// health-api.json: "4-63 characters, containing only lowercase letters,
// numbers, and hyphens".
var clientID = regexp.MustCompile(`^[a-z0-9-]{4,63}$`)

var recordingMethods = []string{"MANUAL", "PASSIVELY_MEASURED", "DERIVED", "ACTIVELY_MEASURED", "UNKNOWN"}

// createDataPoint is POST /v4/users/me/dataTypes/{weight|body-fat}/dataPoints.
func (s *Server) createDataPoint(w http.ResponseWriter, r *apiRequest, m []string) {
	typ := m[2]
	if !slices.Contains(writableTypes, typ) {
		invalidArgument(w, "Data type "+typ+" does not support create in the simulator.")
		return
	}
	var b createBody
	if !decodeBody(w, r.body, &b) {
		return
	}
	v := b.Weight
	if typ == "body-fat" {
		v = b.BodyFat
	}
	if v == nil || b.Weight != nil && b.BodyFat != nil {
		invalidArgument(w, "The data point must carry exactly the "+dataTypes[typ].field+" field of its data type.")
		return
	}
	sample, msg := sampleOf(typ, v)
	p := listed{point: sample}
	if msg != "" {
		invalidArgument(w, msg)
		return
	}
	if p.start.After(s.now()) {
		invalidArgument(w, "sampleTime.physicalTime must not be in the future.")
		return
	}
	p.source = map[string]any{"recordingMethod": "MANUAL", "platform": "GOOGLE_WEB_API"}
	if ds := b.DataSource; ds != nil {
		if ds.RecordingMethod != "" {
			if !slices.Contains(recordingMethods, ds.RecordingMethod) {
				invalidArgument(w, "Invalid value at 'data_point.data_source.recording_method': "+truncate(ds.RecordingMethod, 40))
				return
			}
			p.source["recordingMethod"] = ds.RecordingMethod
		}
		if len(ds.Device) > 0 {
			var dev map[string]any
			if json.Unmarshal(ds.Device, &dev) != nil {
				invalidArgument(w, "Invalid value at 'data_point.data_source.device'.")
				return
			}
			p.source["device"] = dev
		}
	}
	prefix := "users/" + r.user + "/dataTypes/" + typ + "/dataPoints/"
	switch id, ok := dataPointID(b.Name, r, typ); {
	case !ok:
		invalidArgument(w, "Invalid data point name: "+truncate(b.Name, 100))
		return
	case id == "":
		h := fnv.New64a()
		fmt.Fprint(h, simkit.RandomHex(8))
		p.name = prefix + fmt.Sprintf("%016x", h.Sum64())
	default:
		p.name = prefix + id
	}

	s.mu.Lock()
	o := &s.userLocked(r.user).written
	exists := slices.ContainsFunc(o.created[typ], func(q listed) bool { return q.name == p.name })
	if !exists {
		if o.created == nil {
			o.created = map[string][]listed{}
		}
		o.created[typ] = append(o.created[typ], p)
	}
	s.mu.Unlock()
	if exists {
		writeStatus(w, http.StatusConflict, "ALREADY_EXISTS", "Data point "+p.name+" already exists.", nil)
		return
	}
	dp := p.json(s.person(r.user), r.user, typ)
	dp["@type"] = "type.googleapis.com/" + rpcPrefix + "DataPoint"
	writeJSON(w, http.StatusOK, operation(dp))
}

// dataPointID is the id part of a client-provided name: "" when none was
// given, ok=false when it is not a name under the request's parent.
func dataPointID(name string, r *apiRequest, typ string) (string, bool) {
	if name == "" {
		return "", true
	}
	for _, u := range []string{r.pathUser, r.user, "me"} {
		if id, ok := strings.CutPrefix(name, "users/"+u+"/dataTypes/"+typ+"/dataPoints/"); ok {
			return id, clientID.MatchString(id)
		}
	}
	return "", false
}

// sampleOf validates a written sample and returns it as a point.
func sampleOf(typ string, v *writtenSample) (point, string) {
	st := v.SampleTime
	if st == nil || st.PhysicalTime == "" || st.UTCOffset == "" {
		return point{}, "sampleTime.physicalTime and sampleTime.utcOffset are required."
	}
	t, err := time.Parse(time.RFC3339Nano, st.PhysicalTime)
	if err != nil {
		return point{}, "Invalid value at 'data_point.sample_time.physical_time': " + truncate(st.PhysicalTime, 40)
	}
	off, ok := parseDuration(st.UTCOffset)
	if !ok || off < -18*time.Hour || off > 18*time.Hour {
		return point{}, "Invalid value at 'data_point.sample_time.utc_offset': " + truncate(st.UTCOffset, 40)
	}
	value := map[string]any{"sampleTime": sampleTime(t, off)}
	if v.Notes != "" {
		value["notes"] = v.Notes
	}
	// Ranges per health-api.json's Weight and BodyFat.
	switch typ {
	case "weight":
		if v.WeightGrams == nil || *v.WeightGrams < 0 || *v.WeightGrams > 1e6 || v.Percentage != nil {
			return point{}, "weight.weightGrams is required and must be in the range [0, 1000000]."
		}
		value["weightGrams"] = *v.WeightGrams
	case "body-fat":
		if v.Percentage == nil || *v.Percentage < 0 || *v.Percentage > 100 || v.WeightGrams != nil || v.Notes != "" {
			return point{}, "bodyFat.percentage is required and must be in the range [0, 100]."
		}
		value["percentage"] = *v.Percentage
	}
	return point{start: t.UTC(), end: t.UTC(), startOff: off, endOff: off, value: value}, ""
}

// parseDuration reads a google-duration ("3600s", "-1.5s").
func parseDuration(s string) (time.Duration, bool) {
	n, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || f > 315576000000 || f < -315576000000 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

// batchDeleteRequest is BatchDeleteDataPointsRequest.
type batchDeleteRequest struct {
	Names []string `json:"names"`
}

var dataPointNameRE = regexp.MustCompile(`^users/([^/]+)/dataTypes/([^/]+)/dataPoints/([^/]+)$`)

// batchDelete is POST /v4/users/me/dataTypes/{type|-}/dataPoints:batchDelete.
// It is atomic, as AIP-235 asks: one unknown name deletes nothing and
// answers 404.
func (s *Server) batchDelete(w http.ResponseWriter, r *apiRequest, m []string) {
	var req batchDeleteRequest
	if !decodeBody(w, r.body, &req) {
		return
	}
	if len(req.Names) == 0 || len(req.Names) > maxBatchDelete {
		invalidArgument(w, "names must list 1 to "+strconv.Itoa(maxBatchDelete)+" data points.")
		return
	}
	type target struct{ typ, name string }
	targets := make([]target, 0, len(req.Names))
	for _, n := range req.Names {
		nm := dataPointNameRE.FindStringSubmatch(n)
		if nm == nil || nm[1] != "me" && nm[1] != r.user || m[2] != "-" && nm[2] != m[2] || !slices.Contains(writableTypes, nm[2]) {
			invalidArgument(w, "Invalid data point name: "+truncate(n, 100))
			return
		}
		targets = append(targets, target{nm[2], "users/" + r.user + "/dataTypes/" + nm[2] + "/dataPoints/" + nm[3]})
	}
	now := s.now().UTC()
	generated := map[string]bool{}
	for _, typ := range writableTypes {
		for _, p := range s.generate(r.user, typ, now.Add(-History), now, now, func(point) bool { return true }, 0, -1) {
			generated[generatedName(r.user, typ, p)] = true
		}
	}

	s.mu.Lock()
	o := &s.userLocked(r.user).written
	for _, t := range targets {
		live := generated[t.name] && !o.deleted[t.name] ||
			slices.ContainsFunc(o.created[t.typ], func(q listed) bool { return q.name == t.name })
		if !live {
			s.mu.Unlock()
			writeStatus(w, http.StatusNotFound, "NOT_FOUND", "Data point "+t.name+" not found.", nil)
			return
		}
	}
	for _, t := range targets {
		if generated[t.name] {
			if o.deleted == nil {
				o.deleted = map[string]bool{}
			}
			o.deleted[t.name] = true
			continue
		}
		o.created[t.typ] = slices.DeleteFunc(o.created[t.typ], func(q listed) bool { return q.name == t.name })
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, operation(map[string]any{"@type": "type.googleapis.com/google.protobuf.Empty"}))
}

// decodeBody decodes one JSON value, rejecting unknown fields as Google's
// JSON transcoding does ("Invalid JSON payload received. Unknown name …"),
// or answers 400 and reports false.
func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		invalidArgument(w, "Invalid JSON payload received. "+truncate(err.Error(), 200))
		return false
	}
	return true
}
