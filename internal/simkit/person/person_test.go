package person

import (
	"reflect"
	"testing"
	"time"
)

var users = []string{"22B7NF", "ABC123", "7QX9KD", "5J3M2P"}

func days(t *testing.T, p *Person, from string, n int) []time.Time {
	t.Helper()
	d, err := p.Day(from)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, n)
	for i := range out {
		out[i] = d.AddDate(0, 0, i)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	for _, u := range users {
		a, b := New(u), New(u)
		if !reflect.DeepEqual(a.Profile, b.Profile) || a.Device() != b.Device() {
			t.Fatalf("%s: profile or device differs", u)
		}
		day := days(t, a, "2026-11-20", 1)[0]
		if !reflect.DeepEqual(a.Activity(day), b.Activity(day)) || !reflect.DeepEqual(a.Heart(day), b.Heart(day)) ||
			!reflect.DeepEqual(a.Sleeps(day), b.Sleeps(day)) || !reflect.DeepEqual(a.Weighings(day), b.Weighings(day)) {
			t.Fatalf("%s: a day differs between two renderings", u)
		}
		// Any instant of the day gives the day.
		if !reflect.DeepEqual(a.Activity(day.Add(13*time.Hour)), a.Activity(day)) {
			t.Fatalf("%s: the day depends on the instant within it", u)
		}
	}
	if reflect.DeepEqual(New("22B7NF").Activity(time.Now()).Minutes, New("ABC123").Activity(time.Now()).Minutes) {
		t.Fatal("two users have the same day")
	}
}

func TestSumsConsistent(t *testing.T) {
	for _, u := range users {
		p := New(u)
		for _, day := range days(t, p, "2026-03-25", 10) { // across a daylight-saving change
			a := p.Activity(day)
			tot := a.Totals()
			var steps, mm, cal int
			for h := 0; h < 24; h++ {
				s := a.Sum(h*60, h*60+60)
				steps, mm, cal = steps+s.Steps, mm+s.DistanceMM, cal+s.MilliCal
			}
			if steps != tot.Steps || mm != tot.DistanceMM || cal != tot.MilliCal {
				t.Fatalf("%s %s: hourly sums differ from the day's", u, key(day))
			}
			// The basal rate burns through the minutes that exist: a skipped
			// minute carries nothing.
			perDay := p.BMRMilliCalPerDay(day)
			bmr, skipped := perDay, 0
			for i, m := range a.Minutes {
				if m.Skipped {
					skipped++
					bmr -= perDay*(i+1)/MinutesPerDay - perDay*i/MinutesPerDay
					if m != (Minute{Skipped: true}) {
						t.Fatalf("%s %s: skipped minute %d carries %+v", u, key(day), i, m)
					}
				}
			}
			if want := MinutesPerDay - int(day.AddDate(0, 0, 1).Sub(day)/time.Minute); skipped != max(0, want) {
				t.Fatalf("%s %s: %d minutes skipped in a day of %v", u, key(day), skipped, day.AddDate(0, 0, 1).Sub(day))
			}
			if tot.BMRMilliCal != bmr || tot.MilliCal != tot.BMRMilliCal+tot.ActMilliCal {
				t.Fatalf("%s %s: calories %+v, BMR %d", u, key(day), tot, bmr)
			}
			if tot.ElevationMM != tot.Floors*FloorMM {
				t.Fatalf("%s: elevation %d for %d floors", u, tot.ElevationMM, tot.Floors)
			}
			inBed := 0
			for _, m := range a.Minutes {
				if m.InBed {
					inBed++
				}
			}
			if tot.Sedentary+tot.Lightly+tot.Fairly+tot.Very+inBed+skipped != MinutesPerDay {
				t.Fatalf("%s %s: level minutes %+v + in bed %d", u, key(day), tot, inBed)
			}
			h := p.Heart(day)
			zoneMin, zoneCal, worn := 0, 0, 0
			for _, z := range h.Zones {
				zoneMin, zoneCal = zoneMin+z.Minutes, zoneCal+z.MilliCal
			}
			wornCal := 0
			for i, m := range a.Minutes {
				if _, ok := h.MinuteAverage(i); ok {
					worn++
					wornCal += m.MilliCal()
				} else if !m.OffWrist && !m.Skipped {
					t.Fatalf("%s: minute %d has no heart rate but was worn", u, i)
				}
			}
			morning, afternoon := h.ZonesIn(a, 0, 720), h.ZonesIn(a, 720, MinutesPerDay)
			for z := range h.Zones {
				if morning[z].Minutes+afternoon[z].Minutes != h.Zones[z].Minutes || morning[z].MilliCal+afternoon[z].MilliCal != h.Zones[z].MilliCal {
					t.Fatalf("%s: zone %d of halves %+v %+v, of the day %+v", u, z, morning[z], afternoon[z], h.Zones[z])
				}
			}
			if zoneMin != worn || zoneCal != wornCal {
				t.Fatalf("%s %s: zones %d min %d mcal, worn %d min %d mcal", u, key(day), zoneMin, zoneCal, worn, wornCal)
			}
			for _, s := range p.Sleeps(day) {
				sec := 0
				for _, r := range s.Runs() {
					sec += r.Seconds
				}
				if sec != len(s.Epochs)*30 || !p.DayOf(s.End()).Equal(day) ||
					s.AsleepMinutes()+s.AwakeMinutes() != s.TimeInBedMinutes() ||
					s.Seconds(Deep)+s.Seconds(Light)+s.Seconds(REM)+s.Seconds(Wake) != sec {
					t.Fatalf("%s %s: sleep runs %d s of %d epochs, ends %v", u, key(day), sec, len(s.Epochs), s.End())
				}
			}
			for _, e := range a.Exercises {
				if s := a.Sum(e.StartMinute, e.StartMinute+e.Minutes); s.Steps != e.Steps || s.MilliCal != e.MilliCal {
					t.Fatalf("%s: exercise %+v, minutes %+v", u, e, s)
				}
			}
		}
	}
}

func TestPlausible(t *testing.T) {
	offWristDays, weighings, fat, noNight := 0, 0, 0, 0
	for _, u := range users {
		p := New(u)
		if p.Profile.HeightMM < 1500 || p.Profile.HeightMM > 2000 || p.Profile.StrideWalkingMM < 600 ||
			p.Profile.StrideRunningMM <= p.Profile.StrideWalkingMM || p.Location() == nil {
			t.Fatalf("profile %+v", p.Profile)
		}
		if d := p.Device(); len(d.MAC) != 12 || d.Type != "TRACKER" || d.ID == "" {
			t.Fatalf("device %+v", d)
		}
		for _, day := range days(t, p, "2026-01-01", 60) {
			if age := p.Age(day); age < 20 || age > 75 {
				t.Fatalf("age %d", age)
			}
			tot := p.Activity(day).Totals()
			if tot.Steps < 1500 || tot.Steps > 25000 || tot.MilliCal/1000 < 1200 || tot.MilliCal/1000 > 4500 {
				t.Fatalf("%s %s: totals %+v", u, key(day), tot)
			}
			if km := float64(tot.DistanceMM) / 1e6; km < 0.8 || km > 25 {
				t.Fatalf("distance %v km", km)
			}
			if a := p.Activity(day); a.OffWrist.To > a.OffWrist.From {
				offWristDays++
			}
			h := p.Heart(day)
			if h.Resting < 45 || h.Resting > 75 || h.Zones[0].Max <= h.Zones[0].Min || h.Zones[3].Min <= h.Zones[2].Min {
				t.Fatalf("heart %d %+v", h.Resting, h.Zones)
			}
			for _, s := range p.Sleeps(day) {
				if m := s.TimeInBedMinutes(); m < 6*60 || m > 9*60 || s.Efficiency() < 75 || s.Seconds(Deep) == 0 || s.Seconds(REM) == 0 {
					t.Fatalf("%s %s: sleep %d min, efficiency %d", u, key(day), m, s.Efficiency())
				}
			}
			for _, w := range p.Weighings(day) {
				weighings++
				if w.BMI < 17 || w.BMI > 33 || w.KG < 35 || w.KG > 130 || w.LogID != w.Time.UnixMilli() {
					t.Fatalf("weighing %+v", w)
				}
				if w.HasFat {
					fat++
				}
			}
			n, ok := p.Nightly(day)
			if !ok {
				noNight++
				continue
			}
			if n.SpO2Min > n.SpO2Avg || n.SpO2Avg > n.SpO2Max || n.SpO2Max > 100 || n.SpO2Min < 88 ||
				n.DailyRMSSD < 10 || n.BreathingRate < 10 || n.SkinTempRelative < -2 || n.SkinTempRelative > 2 {
				t.Fatalf("nightly %+v", n)
			}
			if v := p.VO2Max(day); v < 30 || v > 56 {
				t.Fatalf("vo2 %v", v)
			}
		}
	}
	// Over 240 person-days every kind of gap and log occurs.
	if offWristDays == 0 || weighings == 0 || fat == 0 || fat == weighings || noNight == 0 {
		t.Fatalf("off-wrist days %d, weighings %d (fat %d), nights without data %d", offWristDays, weighings, fat, noNight)
	}
}

func TestZonesFromAge(t *testing.T) {
	z := Zones(40) // max 180
	if z[1].Min != 90 || z[2].Min != 126 || z[3].Min != 153 || z[0].Max != z[1].Min || z[3].Max != 220 {
		t.Fatalf("zones %+v", z)
	}
}

// On the day daylight saving time starts in Sydney (02:00 becomes 03:00)
// the wall-clock hour 02:xx does not exist: its minutes carry nothing and
// have no heart rate, and every other minute is its own instant.
func TestSkippedHour(t *testing.T) {
	p := New("7K0012")
	if p.Profile.TimeZone != "Australia/Sydney" {
		t.Fatalf("zone %s", p.Profile.TimeZone)
	}
	day := days(t, p, "2026-10-04", 1)[0]
	a, h := p.Activity(day), p.Heart(day)
	seen := map[time.Time]int{}
	for i, m := range a.Minutes {
		if want := i >= 2*60 && i < 3*60; m.Skipped != want {
			t.Fatalf("minute %d skipped %v", i, m.Skipped)
		}
		if _, ok := h.MinuteAverage(i); ok && m.Skipped {
			t.Fatalf("skipped minute %d has a heart rate", i)
		}
		if !m.Skipped {
			if j, dup := seen[p.At(day, i)]; dup {
				t.Fatalf("minutes %d and %d share an instant", j, i)
			}
			seen[p.At(day, i)] = i
		}
	}
}
