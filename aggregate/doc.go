// Package aggregate turns a link's sample stream into the stream ohx
// publishes.
//
// Two aggregators implement ohx.Aggregator:
//
//   - [Individual] passes every sample through unchanged.
//   - [Hourly] summarizes the data types it is configured with into one
//     sample per whole hour (the statistics ohx.Aggregation.Statistics names
//     for the type: mean, min, max and count of a rate, sum and count of a
//     count; optionally the raw values) and passes every other sample through
//     unchanged: types that make no sense to aggregate (ECG, blood pressure,
//     weight, sleep, HRV, daily summaries), samples longer than an hour (a
//     provider's day total), companion samples (the heart rate of an ECG),
//     spot samples of the types in HourlyConfig.SeriesOnly (the policy's
//     auto mode) and types the organization wants individually.
//
// Hours are whole hours of the link's time zone (Link.TimeZone) or of a zone
// the configuration sets (time.UTC for UTC hours). A day with a daylight
// saving change has 23 or 25 of them; in a zone with a 30-minute offset they
// start at half past the UTC hour. An hour is emitted as soon as a later
// sample of its type arrives, so memory holds at most one open hour per type,
// whatever the window.
//
// The policy decides which types are aggregated: [ForPolicy] builds the right
// aggregator from an ohx.Policy. Hourly also implements ohx.BucketAligner and
// ohx.CursorLimiter: strategies align their windows to its hours (so a late
// sample re-reads and recomputes its whole hour) and the engine never moves a
// cursor past the start of an hour still open.
package aggregate
