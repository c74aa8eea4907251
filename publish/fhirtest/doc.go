// Package fhirtest provides an in-process FHIR R5 or R4 server for tests:
// for ohx's own tests and for anyone who wants to test an integration
// without a real FHIR server or network.
//
// A [Server] keeps resources in memory and implements what a publisher
// needs from a strict R5 (or, [WithVersion], R4) server:
//
//   - transaction Bundles (all-or-nothing: a bad entry gives 400 or 422 with
//     an OperationOutcome whose expression names "Bundle.entry[i]") and
//     batch Bundles (each entry succeeds or fails alone);
//   - PUT Type/id (create or update; meta.versionId increments), conditional
//     create (POST with ifNoneExist / If-None-Exist) and conditional update
//     (PUT Type?identifier=system|value, or Type?_tag=system|code for a
//     resource without identifier such as Provenance), also as single
//     requests;
//   - urn:uuid references between the entries of a bundle, and conditional
//     references (Type?identifier=…), rewritten to Type/id;
//   - read (GET Type/id) and a minimal search by identifier (also
//     "system|" for any value), subject, code (system|code, comma-separated
//     alternatives) and date (ge/gt/le/lt on the effective time, with
//     FHIR's range semantics for periods), answered as a searchset Bundle.
//
// GET [base]/metadata answers a CapabilityStatement whose fhirVersion is
// the server's release (5.0.0 or 4.0.1), or 404 with [WithoutMetadata].
// Every incoming resource is validated with fhirmap/validate against the
// server's release (the official R5 and R4 schemas are embedded there, so
// this works in any module) and refused with an OperationOutcome when it is
// not valid.
//
// Failures can be injected: latency ([Server.SetLatency]), 429 or 503 with
// Retry-After for the next N requests ([Server.FailNext]), dropped
// connections ([Server.DropNext]), and refusal of the N-th resource or of
// resources matching a predicate ([Server.RejectResource],
// [Server.RejectIf]). Everything received is recorded for assertions
// ([Server.Requests], [Server.Received], [Server.Count], [Server.Get]), and
// [Server.WriteNDJSON] writes what the server holds as FHIR Bulk Data NDJSON.
//
// [NewServer] listens on loopback; [New] does not listen at all, and its
// [Server.Client] serves requests in memory, which keeps tests that use
// testing/synctest deterministic.
package fhirtest
