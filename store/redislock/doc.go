// Package redislock is an ohx.Locker on Redis, for deployments that keep
// refresh locks in Redis rather than in their database (Redis holds only
// what may be lost: losing a lease early costs at most one redundant
// refresh attempt, which the re-read of the stored token then catches).
//
// Lock takes a key with SET NX PX and a random holder token, polling with
// backoff while another holder has it; the lease expires on the server after
// its duration, so a holder that dies frees it. Release deletes the key with
// a Lua script only if it still holds this holder's token, so a holder whose
// lease expired and was taken over frees nothing.
//
// It works with a single Redis, Sentinel or a Cluster client
// (redis.UniversalClient); it is not Redlock across independent masters.
package redislock
