// Compiled into every program of a VKDROP_SANITIZE build (CMakeLists.txt), nowhere else: a dlclose that does
// nothing. The Vulkan loader unloads the driver and layer libraries at vkDestroyInstance; LeakSanitizer looks for
// leaks at exit, when memory that an unloaded library's globals pointed to looks leaked (lavapipe's one-time
// initialisation, 128 bytes, on every run) and the frames of its stack belong to "<unknown module>", which no
// suppression can name. Kept loaded, that memory is reachable and every stack is named. (Debian 12's loader,
// 1.3.239, has no switch to keep them loaded; the sanitizers' authors advise this for programs that dlopen.)
//
// A strong definition: it replaces the sanitizer runtime's own dlclose interceptor, which is weak.
extern "C" int dlclose(void*) { return 0; }
