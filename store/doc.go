// Package store holds the link, token and cursor stores of ohx.
//
// [Memory] keeps everything in process memory: for tests and for programs that
// do not need state to survive a restart. Durable stores live in
// sub-packages so that importing this one links no database driver.
package store
