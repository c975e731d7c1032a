/*
 * simul/export.h - SIMUL_API, the mark on every public function; part of the
 * public API, included by <simul.h> (and so by every simul header).
 *
 * libsimul is built with hidden symbol visibility (meson's
 * gnu_symbol_visibility 'hidden'), as libuv is: libsimul.so exports exactly
 * the functions declared SIMUL_API, so the library's internals (simul__*)
 * stay private and calls between them bind inside the library. Every
 * function declared in a public header carries it; tests/exports.sh checks
 * that each one is exported and nothing else is.
 */
#ifndef SIMUL_EXPORT_H
#define SIMUL_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SIMUL_API __attribute__((visibility("default")))
#else
#define SIMUL_API
#endif

#endif
