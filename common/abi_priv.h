/* abi_priv.h - record layouts of the priv probe family (included by hw_abi.h). */
#ifndef HW_ABI_PRIV_H
#define HW_ABI_PRIV_H
#endif
