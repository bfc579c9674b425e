package registry

import (
	"fmt"
	"net/http"
)

// Error is a registry error with Confluent Schema Registry's error code. Over HTTP it is
// the response {"error_code": Code, "message": Message} with status HTTPStatus().
// errors.Is(err, ErrSubjectNotFound) and the like compare codes.
type Error struct {
	Code    int
	Message string
	cause   error
}

func (e *Error) Error() string { return fmt.Sprintf("registry: %s (error code %d)", e.Message, e.Code) }

// Unwrap returns the cause, if any (ErrSchemaNotFound from GetSchema wraps
// avroconn.ErrUnknownSchema).
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the HTTP status of the error: the first three digits of a five-digit
// code (40401 -> 404), or the code itself.
func (e *Error) HTTPStatus() int {
	if e.Code >= 10000 {
		return e.Code / 100
	}
	if e.Code >= 100 && e.Code < 600 {
		return e.Code
	}
	return http.StatusInternalServerError
}

// The errors of the registry, by Confluent's codes. Compare with errors.Is; the
// registry's own errors carry a message naming the subject, version or id.
var (
	ErrSubjectNotFound        = &Error{Code: 40401, Message: "Subject not found"}
	ErrVersionNotFound        = &Error{Code: 40402, Message: "Version not found"}
	ErrSchemaNotFound         = &Error{Code: 40403, Message: "Schema not found"}
	ErrSubjectSoftDeleted     = &Error{Code: 40404, Message: "Subject was soft deleted"}
	ErrSubjectNotSoftDeleted  = &Error{Code: 40405, Message: "Subject was not deleted first before being permanently deleted"}
	ErrSubjectLevelNotSet     = &Error{Code: 40408, Message: "Subject does not have subject-level compatibility configured"}
	ErrIncompatibleSchema     = &Error{Code: 409, Message: "Schema being registered is incompatible with an earlier schema"}
	ErrInvalidSchema          = &Error{Code: 42201, Message: "Invalid schema"}
	ErrInvalidVersion         = &Error{Code: 42202, Message: "Invalid version"}
	ErrInvalidCompatibility   = &Error{Code: 42203, Message: "Invalid compatibility level"}
	ErrOperationNotPermitted  = &Error{Code: 42205, Message: "Operation not permitted"}
	ErrStore                  = &Error{Code: 50001, Message: "Error in the backend data store"}
	ErrBadRequest             = &Error{Code: 400, Message: "Bad request"}
	ErrNotFound               = &Error{Code: 404, Message: "HTTP 404 Not Found"}
	errUnprocessable          = &Error{Code: 422, Message: "Unprocessable entity"}
	errClosed                 = &Error{Code: 50001, Message: "the registry is closed"}
	errConcurrentRegistration = &Error{Code: 50001, Message: "another writer changed the subject at the same time; retry"}
)

// errorf returns an error with kind's code and a formatted message.
func errorf(kind *Error, format string, args ...any) *Error {
	return &Error{Code: kind.Code, Message: fmt.Sprintf(format, args...)}
}
