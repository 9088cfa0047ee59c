/* abi_custom.h - record layouts of the custom probe family (included by hw_abi.h). */
#ifndef HW_ABI_CUSTOM_H
#define HW_ABI_CUSTOM_H
#endif
