// Command taillat measures tail delivery latency. It opens -tails
// concurrent tail sessions (GET /apps/APP/logs?tail=1&num=0) on one app of
// a running sluiced, waits until every session receives a warm-up line,
// then sends -n messages over syslog TCP at -rate messages/s spread over
// -apps apps (the tailed app is app-00000). Every message text starts with
// "t=<send time, unix ns>"; each session measures receive time minus send
// time for every line of the tailed app. It prints one JSON line: the
// latency percentiles over all sessions (p50, p99, p999, max in ms), lines
// expected and received, L11 drop notices seen, and the achieved send rate.
//
// Goroutines: one per tail session and one sender, all owned by run, which
// cancels them through ctx and waits for them.
package main
