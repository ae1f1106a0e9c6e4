// Command upstream is the benchmark's stand-in for api.fitbit.com: a small
// keep-alive HTTP server that answers every request carrying a Bearer token
// with a Fitbit-sized profile body (~1 KiB, the shape of
// GET /1/user/-/profile.json) and 401 without one. It accepts any token.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// profile is a ~1 KiB body in the shape of Fitbit's /1/user/-/profile.json.
const profile = `{"user":{"age":36,"ambassador":false,"autoStrideEnabled":true,"avatar":"https://static0.fitbit.com/images/profile/defaultProfile_100.png","avatar150":"https://static0.fitbit.com/images/profile/defaultProfile_150.png","avatar640":"https://static0.fitbit.com/images/profile/defaultProfile_640.png","averageDailySteps":8312,"challengesBeta":true,"clockTimeDisplayFormat":"24hour","corporate":false,"corporateAdmin":false,"dateOfBirth":"1990-01-01","displayName":"Bench U.","displayNameSetting":"name","distanceUnit":"METRIC","encodedId":"22B7NF","features":{"exerciseGoal":true},"firstName":"Bench","foodsLocale":"en_GB","fullName":"Bench User","gender":"NA","glucoseUnit":"METRIC","height":175.0,"heightUnit":"METRIC","isBugReportEnabled":false,"isChild":false,"isCoach":false,"languageLocale":"en_GB","lastName":"User","legalTermsAcceptRequired":false,"locale":"en_GB","memberSince":"2016-01-01","mfaEnabled":false,"offsetFromUTCMillis":3600000,"sdkDeveloper":false,"sleepTracking":"Normal","startDayOfWeek":"MONDAY","strideLengthRunning":110.5,"strideLengthRunningType":"default","strideLengthWalking":72.6,"strideLengthWalkingType":"default","swimUnit":"METRIC","temperatureUnit":"METRIC","timezone":"Europe/London","topBadges":[],"waterUnit":"METRIC","waterUnitName":"ml","weight":70.0,"weightUnit":"METRIC"}}`

var body = []byte(profile)

const unauthorized = `{"errors":[{"errorType":"invalid_token","message":"Access token invalid or missing"}],"success":false}`

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The chosen address on stdout, so a script can start it on port 0.
	println("listening", ln.Addr().String())
	cl := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json;charset=UTF-8"}
		if a := r.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ") || len(a) < 8 {
			hd["Www-Authenticate"] = []string{`Bearer realm="bench"`}
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(unauthorized))
			return
		}
		hd["Content-Length"] = []string{cl}
		hd["Fitbit-Rate-Limit-Limit"] = []string{"150"}
		hd["Fitbit-Rate-Limit-Remaining"] = []string{"149"}
		hd["Fitbit-Rate-Limit-Reset"] = []string{"1800"}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	log.Fatal(srv.Serve(ln))
}
