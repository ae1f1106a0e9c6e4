package googlesim

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit/person"
)

// Every data type the simulator serves is rendered from the user's
// synthetic person (package person), the one the simulated Fitbit renders
// too. A person's day is a pure function of (user, date), but rendering
// one (1,440 minutes, 17,280 heart-rate samples) costs about a
// millisecond, and a 30-day roll-up or a day's heart-rate list is asked for
// page after page: the days most recently used are kept.

// dayCacheSize bounds the days kept (about 150 kB each, so some 20 MB):
// a whole 90-day roll-up's days and then some.
const dayCacheSize = 128

// personDay is one local day of a person, as the simulator renders it.
type personDay struct {
	p   *person.Person
	day time.Time // local midnight
	a   *person.Activity
	// at is each wall-clock minute's instant (person.At).
	at [person.MinutesPerDay]time.Time

	heartOnce sync.Once
	h         *person.Heart
}

// heart is the day's heart rate, rendered on first use.
func (d *personDay) heart() *person.Heart {
	d.heartOnce.Do(func() { d.h = d.p.Heart(d.day) })
	return d.h
}

type dayKey struct {
	person string
	day    string // yyyy-MM-dd
}

// personCache keeps the persons and their recent days.
type personCache struct {
	persons sync.Map // key -> *person.Person
	days    *lru.Cache[dayKey, *personDay]
}

func newPersonCache() *personCache {
	c, _ := lru.New[dayKey, *personDay](dayCacheSize) // errors only for a size <= 0
	return &personCache{days: c}
}

// person is user's synthetic person (see personKey).
func (s *Server) person(user string) *person.Person {
	key := s.personKey(user)
	if p, ok := s.people.persons.Load(key); ok {
		return p.(*person.Person)
	}
	p, _ := s.people.persons.LoadOrStore(key, person.New(key))
	return p.(*person.Person)
}

// personDay is the local day of p holding t.
func (s *Server) personDay(p *person.Person, t time.Time) *personDay {
	day := p.DayOf(t)
	k := dayKey{p.Profile.UserID, day.Format(time.DateOnly)}
	if d, ok := s.people.days.Get(k); ok {
		return d
	}
	d := &personDay{p: p, day: day, a: p.Activity(day)}
	for i := range d.at {
		d.at[i] = p.At(day, i)
	}
	s.people.days.Add(k, d)
	return d
}

// personKey is the key of user's synthetic person: the user's Fitbit
// encoded id, Google's legacyUserId, which is what the simulated Fitbit
// knows the same person by; the healthUserId for users without one.
func (s *Server) personKey(user string) string {
	if id := s.cfg.LegacyUserIDs[user]; id != "" {
		return id
	}
	return user
}

// offset is the person's UTC offset at t (daylight saving included), which
// every point carries as its utcOffset.
func offset(p *person.Person, t time.Time) time.Duration {
	_, off := t.In(p.Location()).Zone()
	return time.Duration(off) * time.Second
}

// minuteRef is one minute of a person's day.
type minuteRef struct {
	d *personDay
	i int
}

func (m minuteRef) at() time.Time          { return m.d.at[m.i] }
func (m minuteRef) minute() *person.Minute { return &m.d.a.Minutes[m.i] }

// minutesIn returns the minutes of p that start in [lo, hi) and have begun
// by now (the current minute counts, as the simulated Fitbit counts it),
// in the order of their instants. The wall-clock minutes that do not exist
// (person.Minute.Skipped: the hour skipped when daylight saving time
// starts) are not minutes of any window, though time.Date gives them an
// instant; the others' instants increase with the wall clock.
func (s *Server) minutesIn(p *person.Person, lo, hi, now time.Time) []minuteRef {
	hi = minTime(hi, now.Add(time.Nanosecond))
	if !hi.After(lo) {
		return nil
	}
	var out []minuteRef
	for day := p.DayOf(lo); !day.After(hi); day = day.AddDate(0, 0, 1) {
		d := s.personDay(p, day)
		for i := range d.at {
			if t := d.at[i]; !d.a.Minutes[i].Skipped && !t.Before(lo) && t.Before(hi) {
				out = append(out, minuteRef{d, i})
			}
		}
	}
	return out
}
