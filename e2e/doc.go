// Package e2e holds ohx's end-to-end and fault-injection tests. They wire the
// library the way the daemon does (provider fakes, engine, hourly aggregation,
// fhirmap, publish.FHIR, the queue and server.Server) on loopback only, inject
// failures at the FHIR server, the provider and the queue's Redis, and assert
// what arrived at the FHIR server (publish/fhirtest): every resource exactly
// once, with the versions written per id.
//
// Every test is bounded in time and stops by itself. Tests that need Redis
// start their own redis-server on a free port and skip when the binary is not
// installed.
package e2e
