// Package httpdelivery is the delivery kit of the HTTP destinations
// (webhook, segment, customerio): it decides once what a remote's answer
// means for delivery, reads its Retry-After header, and words the error,
// so that every HTTP destination classifies the same answer alike.
//
// # Classification
//
// [Classify] maps an HTTP status to a [router.Kind]. The model is the
// OpenTelemetry Collector's isRetryableStatusCode, widened to every 5xx:
//
//	2xx                                   ok (any 2xx: a 201 or 204 is success too)
//	408, 429                              retryable
//	500, 502, 503, 504, every other 5xx   retryable
//	other 4xx                             permanent
//	1xx, 3xx, and codes outside 100-599   permanent
//
// Every 5xx is retryable, 501 and 505 too, and unknown ones such as 599:
// a 5xx says the fault is the server's, not the request's, so a later
// attempt may succeed (a proxy in front of a remote being redeployed
// answers 501 or 599 for a while). Retrying a 5xx that never heals costs
// only time: the messages are durable in the log, dispatch's retries are
// bounded (max_attempts, max_age) and end in the dead-letter stream anyway,
// whereas calling a passing 5xx permanent would dead-letter good messages
// at the first hiccup. Both remotes' own guidance agrees: Customer.io asks
// that 429 and 5xx be retried, and Segment's libraries retry 5xx.
//
// Anything that is neither 2xx, 408, 429 nor 5xx is permanent. For 4xx the
// remote says the request is at fault, and the same request fails again.
// A 3xx is permanent because the HTTP destinations do not follow redirects
// (a 301, 302 or 303 would turn a POST into a GET, and a redirect hides a
// misconfigured URL), so the same request meets the same redirect. A 1xx
// as final answer (101) or a code outside 100-599 is an answer the
// destination does not understand, and asking again does not make it one
// it does: it is permanent, so that it reaches the dead-letter stream at
// once, with the status in its error, instead of after hours of retries.
//
// # Answers and errors
//
// [Read] turns an *http.Response into nil (2xx, with the body drained so
// that the connection is reused) or a [*StatusError] holding the status, a
// bounded quoted snippet of the body ([Snippet], at most [SnippetLen]
// bytes) and the Retry-After delay ([RetryAfter]: seconds or an HTTP date,
// capped at [MaxRetryAfter]). [StatusError.Classified] marks an error that
// wraps the answer with the kind [Classify] gives its status, and the
// Retry-After delay when it is retryable. A destination adds its own
// prefix and hints (which setting to check) by wrapping before it
// classifies; a status a remote documents differently stays in that
// destination, with a comment saying why.
package httpdelivery
