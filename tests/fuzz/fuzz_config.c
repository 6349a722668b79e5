/* libFuzzer target: the configuration parser, fed whole files. */
#include "core/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[600];
	char value[256];
	long long num;

	if (config_init(&c) < 0)
		return 0;
	config_parse_text(&c, (const char *)data, size, "fuzz", err, sizeof err);
	config_free(&c);

	/* Each value checker alone, on the input as one value. */
	if (size < sizeof value && !memchr(data, '\0', size)) {
		memcpy(value, data, size);
		value[size] = '\0';
		for (int i = 0; i < CFG__COUNT; i++)
			config_check_value(&config_table[i], value, &num, err, sizeof err);
	}
	return 0;
}
