/* glibc's view of the x86 CPU's features (<sys/platform/x86.h>, glibc
 * 2.33 and later), for SimLossABI/KernelDispatch.swift: CPU_FEATURE_ACTIVE
 * is a macro, so Swift calls the inline function behind it,
 * x86_cpu_active(x86_cpu_<NAME>). */
#include <sys/platform/x86.h>
