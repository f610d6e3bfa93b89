package trailseal

// #include <stdint.h>
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// trailsealGoProgress is the C progress callback of Ledger.Verify: userdata holds the
// cgo.Handle of a *progressState. A panic in the Go callback is caught here (it must not
// unwind through the C library) and re-raised by Verify once the C call has returned.
//
//export trailsealGoProgress
func trailsealGoProgress(userdata unsafe.Pointer, done, total C.uint64_t) {
	state := cgo.Handle(*(*C.uintptr_t)(userdata)).Value().(*progressState)
	if state.recovered != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			state.recovered = r
		}
	}()
	state.f(uint64(done), uint64(total))
}
