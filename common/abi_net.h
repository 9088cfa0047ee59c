/* abi_net.h - record layouts of the net probe family (included by hw_abi.h). */
#ifndef HW_ABI_NET_H
#define HW_ABI_NET_H
#endif
