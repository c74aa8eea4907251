// Package providertest is the conformance suite every ohx.Provider runs in
// its tests, against its own fake of the provider's cloud:
//
//	func TestConformance(t *testing.T) {
//		fake := withingstest.NewServer(t, ...)
//		providertest.Run(t, providertest.Config{
//			Provider: p, Link: link, Window: w,
//			Types: []ohx.DataType{ohx.BodyWeight, ohx.HeartRate},
//			Fail: func(f providertest.Failure) (ohx.Provider, func()) {
//				restore := fake.FailWith(f) // make the fake answer 401, 429 or 5xx
//				return p, restore
//			},
//		})
//	}
//
// Run checks, each in its own subtest, that Fetch over the window yields only
// valid samples (Sample.Validate) of the provider, inside the window and of
// the requested types (companions of a requested type included), in
// non-decreasing Start order per data type; that paging holds (no
// duplicates, the same result twice, the two halves of the window add up to
// the whole); that a cancelled context stops the stream promptly with the
// context's error and that a consumer stopping early is honoured, both
// without leaking goroutines; that failures are classified (ohx.KindOf) as
// ohx's kinds; and that Devices lists devices with ids.
//
// The leak checks compare the goroutines alive before and after a Fetch by
// id, ignoring the connections an HTTP transport or server keeps in its
// pool; set Config.SkipLeakCheck when the test runs in parallel with others
// that start goroutines. When the provider's client has a breaker, the
// restore function of Config.Fail should close it (Breakers.ForceClose):
// after each failure the suite checks that the provider works again.
package providertest
