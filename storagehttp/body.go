package storagehttp

import "time"

// WithBodyTimeout sets how long a request body may make no progress
// before the request is cut and answered 408 (httpbody.DefaultIdle unless
// set; 0 or less means never). A body arriving slowly but steadily is not
// cut, and answers (share reads) are not limited by it.
func WithBodyTimeout(d time.Duration) HandlerOption {
	return func(h *handler) { h.bodyTimeout = d }
}
