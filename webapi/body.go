package webapi

import (
	"errors"
	"fmt"

	"github.com/lafs/lafs/httpbody"
)

// readFailure is the error for a failed read of what a request sent,
// while reading what: an httpbody.Error keeps its kind (400, or 408 for a
// stall), anything else (a form's framing) is a bad request.
func readFailure(err error, what string) error {
	var be *httpbody.Error
	if errors.As(err, &be) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return badRequest("%s: %v", what, err)
}
