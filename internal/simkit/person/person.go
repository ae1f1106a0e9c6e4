package person

import (
	"fmt"
	"math/rand/v2"
	"time"
	_ "time/tzdata" // the person's zone must load on hosts without a zoneinfo database

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// Gender as Fitbit's profile spells it.
const (
	Male   = "MALE"
	Female = "FEMALE"
)

// zones are the time zones a person may live in: some with daylight saving,
// some without, on both sides of UTC.
var zones = []string{"Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney"}

// Profile is what does not change from day to day.
type Profile struct {
	UserID          string // the Fitbit encoded id and Google's legacyUserId
	DisplayName     string
	FirstName       string
	LastName        string
	Gender          string    // Male or Female
	BirthDate       time.Time // a date, midnight UTC
	MemberSince     time.Time // a date, midnight UTC
	HeightMM        int
	StrideWalkingMM int
	StrideRunningMM int
	TimeZone        string // IANA, such as "Europe/Berlin"
}

// Device is the person's one tracker.
type Device struct {
	ID      string // decimal digits, as Fitbit's device ids are
	Version string // the model, Fitbit's deviceVersion
	Type    string // TRACKER
	MAC     string // 12 hex digits
}

// Person is one synthetic person. Its methods are pure functions of the
// user key and their arguments.
type Person struct {
	Profile Profile
	loc     *time.Location
	// Per-person bases that the days vary around.
	baseKG, restingBase, hrvBase, vo2Base float64
}

// New returns the person of user.
func New(user string) *Person {
	r := simkit.Rand(user, "person")
	p := &Person{Profile: Profile{
		UserID:      user,
		DisplayName: "Sim user " + user,
		FirstName:   "Sim",
		LastName:    "User " + user,
		Gender:      Male,
		TimeZone:    zones[r.IntN(len(zones))],
	}}
	if r.IntN(2) == 0 {
		p.Profile.Gender = Female
	}
	p.Profile.BirthDate = time.Date(simkit.Between(r, 1955, 2002), time.Month(simkit.Between(r, 1, 12)), simkit.Between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	p.Profile.MemberSince = time.Date(simkit.Between(r, 2012, 2024), time.Month(simkit.Between(r, 1, 12)), simkit.Between(r, 1, 28), 0, 0, 0, 0, time.UTC)
	h := simkit.Between(r, 1550, 1950)
	p.Profile.HeightMM = h
	// Fitbit's defaults from the height, to the millimetre.
	p.Profile.StrideWalkingMM = h * 415 / 1000
	p.Profile.StrideRunningMM = h * 650 / 1000
	loc, err := time.LoadLocation(p.Profile.TimeZone)
	if err != nil {
		panic(err) // the zones above are in the embedded database
	}
	p.loc = loc
	m := float64(h) / 1000
	p.baseKG = float64(simkit.Between(r, 200, 300)) / 10 * m * m // BMI 20..30
	p.restingBase = float64(simkit.Between(r, 52, 66))
	p.hrvBase = float64(simkit.Between(r, 25, 60))
	p.vo2Base = float64(simkit.Between(r, 340, 520)) / 10
	return p
}

// Location is the person's time zone.
func (p *Person) Location() *time.Location { return p.loc }

// Day returns the local midnight that starts the person's day of date
// ("2006-01-02").
func (p *Person) Day(date string) (time.Time, error) {
	return time.ParseInLocation(time.DateOnly, date, p.loc)
}

// DayOf returns the local midnight that starts the person's day holding t.
func (p *Person) DayOf(t time.Time) time.Time {
	y, m, d := t.In(p.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, p.loc)
}

// At is the instant of wall-clock minute i (0..1439) of day.
func (p *Person) At(day time.Time, minute int) time.Time {
	y, m, d := day.In(p.loc).Date()
	return time.Date(y, m, d, 0, minute, 0, 0, p.loc)
}

// OffsetMillis is the zone's offset from UTC at t, in milliseconds.
func (p *Person) OffsetMillis(t time.Time) int {
	_, off := t.In(p.loc).Zone()
	return off * 1000
}

// Age is the age in whole years on day.
func (p *Person) Age(day time.Time) int {
	y, m, d := day.In(p.loc).Date()
	b := p.Profile.BirthDate
	age := y - b.Year()
	if m < b.Month() || m == b.Month() && d < b.Day() {
		age--
	}
	return age
}

// Device is the person's tracker.
func (p *Person) Device() Device {
	r := simkit.Rand(p.Profile.UserID, "device")
	return Device{
		ID:      fmt.Sprint(simkit.Between(r, 100_000_000, 999_999_999)),
		Version: "Charge 6",
		Type:    "TRACKER",
		MAC:     fmt.Sprintf("%012X", r.Uint64()&0xFFFFFFFFFFFF),
	}
}

// Battery is the tracker's battery level in percent at t: it drains through
// each local day and is charged overnight.
func (p *Person) Battery(t time.Time) int {
	day := p.DayOf(t)
	r := simkit.Rand(p.Profile.UserID, key(day), "battery")
	full := simkit.Between(r, 85, 100)
	return max(5, full-int(t.Sub(day)/time.Hour)*3)
}

// LastSync is when the tracker last synced by t: on the quarter hour
// before it (a worn tracker syncs often).
func (p *Person) LastSync(t time.Time) time.Time { return t.Truncate(15 * time.Minute) }

// BatteryStatus is the level's bucket, as Fitbit's devices.json and
// Google's pairedDevices name it (High, Medium, Low, Empty); neither
// documents the thresholds, so these are ASSUMED.
func BatteryStatus(level int) string {
	switch {
	case level > 60:
		return "High"
	case level > 25:
		return "Medium"
	case level > 10:
		return "Low"
	}
	return "Empty"
}

func key(day time.Time) string { return day.Format(time.DateOnly) }

// rng is the generator of one purpose on one day.
func (p *Person) rng(day time.Time, purpose string) *rand.Rand {
	return simkit.Rand(p.Profile.UserID, key(day), purpose)
}

// between is simkit.Between.
var between = simkit.Between
