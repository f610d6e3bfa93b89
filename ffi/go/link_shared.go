//go:build trailseal_shared

package trailseal

// The installed shared library (bash ffi/install.sh PREFIX), found with pkg-config; the
// program needs it at run time too (ldconfig, LD_LIBRARY_PATH or an rpath).

// #cgo pkg-config: trailseal
import "C"
