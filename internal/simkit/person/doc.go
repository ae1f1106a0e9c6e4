// Package person is one deterministic synthetic person per user key (the
// Fitbit encoded id, which is also Google's legacyUserId), rendered by both
// simulators so that the simulated Fitbit's own v1 answers and the gateway's
// answers translated from the simulated Google Health can be compared field
// by field.
//
// Nothing is stored: every value is a function of (user, local date,
// purpose) through simkit.Rand, so any day can be rendered, in any order and
// by any process, and comes out the same.
//
// # One source of truth at fine grain
//
// What a tracker measures is modelled at its finest grain, and everything
// coarser is derived by summing, so the totals that two APIs report agree
// exactly when both are computed from it:
//
//   - Activity, per local minute (Activity.Minutes): steps, distance (mm),
//     floors, elevation gain (mm), calories in millikilocalories split into
//     the basal (BMR) part and the active part, and the activity level
//     (sedentary, lightly, fairly, very). Day totals (Activity.Totals),
//     exercises (walks and runs, Activity.Exercises) and every coarser
//     interval are sums of minutes.
//   - Heart rate every 5 seconds (Heart.Samples), 0 while the tracker is off
//     the wrist: some days have one off-wrist window, during which the
//     minutes have no steps either. The resting heart rate is a daily value;
//     zone minutes and zone calories count the on-wrist minutes by their
//     average heart rate against bounds from the age (Fitbit's default
//     zones: 50 %, 70 % and 85 % of 220 − age).
//   - The main sleep that ends on a day (Fitbit's dateOfSleep), in 30-second
//     stages (deep, light, rem, wake); its minutes are in bed, so they are
//     sedentary with no steps and are not counted as sedentary minutes (as
//     Fitbit does).
//   - Weight and body-fat logs on some mornings (BMI from the height), and
//     per night SpO2 (avg, min, max), HRV (daily and deep RMSSD), breathing
//     rate and the skin temperature relative to the person's baseline, all
//     missing on some nights; a daily VO2 max.
//   - The profile (height, stride lengths, birth date, gender, time zone) and
//     one tracker.
//
// # Days
//
// Days are the person's local days in its IANA time zone (Profile.TimeZone).
// A day is 1440 wall-clock minutes, 00:00 to 23:59, as Fitbit's intraday
// answers are; the instant of a minute is what time.Date gives for that wall
// clock (Person.At). On the two daylight-saving days a year:
//
//   - The hour skipped when daylight saving time starts (02:00 to 02:59 in
//     most zones) does not exist: its minutes are Minute.Skipped and carry
//     nothing (no steps, distance, floors or calories, no level, no heart
//     rate, not in bed), so Fitbit's intraday lists them as zeros, as it
//     lists an hour that did not happen, and Google has no points there.
//     The basal rate burns through real time only, so that day's basal
//     calories are 23/24 of the daily rate (BMRMilliCalPerDay). time.Date
//     still gives those minutes an instant (that of the hour before or
//     after, by the zone), which nothing may count.
//   - The repeated hour is its first occurrence: the second one has no
//     minutes, so the day's 1440 minutes cover 24 of its 25 hours.
package person
