#include "formats/global.h"

#include "core/alloc.h"

#include <cjson/cJSON.h>

void pb_global_init(void)
{
    cJSON_Hooks hooks = {pb_malloc, pb_free};
    cJSON_InitHooks(&hooks); /* returns nothing; cannot fail */
}
