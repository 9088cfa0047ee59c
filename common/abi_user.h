/* abi_user.h - record layouts of the user probe family (included by hw_abi.h). */
#ifndef HW_ABI_USER_H
#define HW_ABI_USER_H
#endif
