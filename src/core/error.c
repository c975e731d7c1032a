/*
 * error.c - simul_strerror: messages for the negative errno values that
 * every simul call returns, with wording for the ones simul gives a
 * specific meaning.
 */
#include "internal.h"

#include <string.h>

const char *simul_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:          return "Success";
    case ECANCELED:  return "Operation cancelled";
    case ETIMEDOUT:  return "Timed out";
    case ESRCH:      return "No such task (handle already joined, detached or freed)";
    case EPERM:      return "Not allowed here (a suspending call outside a task?)";
    case EDEADLK:    return "A task cannot wait for itself";
    case EALREADY:   return "Already finished";
    case ESHUTDOWN:  return "Shut down (queue or loop closed)";
    default: {
        const char *s = strerrordesc_np(err);
        return s ? s : "Unknown error";
    }
    }
}
