/* version: set by the Makefile from the VERSION file. */
#ifndef GH_VERSION_H
#define GH_VERSION_H

#ifndef GH_VERSION
#define GH_VERSION "0.0.0-dev"
#endif

#endif
