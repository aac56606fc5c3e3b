// A freestanding program built at -O2 without -mgeneral-regs-only: GCC uses SIMD&FP registers
// for varargs, struct copies, memcpy/memset expansions, floating point and vectorised loops.
typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_end(ap) __builtin_va_end(ap)

static volatile unsigned char *const UART = (volatile unsigned char *)0x09000000;
static void putch(char c) { *UART = (unsigned char)c; }
static void puthex(unsigned long v, int digits) {
  for (int i = (digits - 1) * 4; i >= 0; i -= 4) putch("0123456789abcdef"[(v >> i) & 15]);
}
static void putdec(long v) {
  char buf[24];
  int n = 0;
  unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
  do buf[n++] = '0' + u % 10; while ((u /= 10) != 0);
  if (v < 0) putch('-');
  while (n) putch(buf[--n]);
}

void *memcpy(void *d, const void *s, unsigned long n) {
  unsigned char *dd = d;
  const unsigned char *ss = s;
  while (n--) *dd++ = *ss++;
  return d;
}
void *memset(void *d, int c, unsigned long n) {
  unsigned char *dd = d;
  while (n--) *dd++ = (unsigned char)c;
  return d;
}

/* %d %x %s %f (a double: its bits and its value to 6 decimals) %g (a float promoted) */
static void print(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  for (; *fmt; fmt++) {
    if (*fmt != '%') { putch(*fmt); continue; }
    switch (*++fmt) {
    case 'd': putdec(va_arg(ap, int)); break;
    case 'x': puthex(va_arg(ap, unsigned long), 16); break;
    case 's': for (const char *s = va_arg(ap, const char *); *s; s++) putch(*s); break;
    case 'f': {
      double d = va_arg(ap, double);
      union { double d; unsigned long u; } b = { d };
      puthex(b.u, 16);
      putch('=');
      if (d != d || d > 9e18 || d < -9e18) { putch('?'); break; }
      long ip = (long)d;
      double frac = d - (double)ip;
      if (frac < 0) frac = -frac;
      if (d < 0 && ip == 0) putch('-');
      putdec(ip);
      putch('.');
      long f6 = (long)(frac * 1000000.0 + 0.5);
      for (long p = 100000; p; p /= 10) putch('0' + (f6 / p) % 10);
      break;
    }
    default: putch(*fmt);
    }
  }
  va_end(ap);
}

struct particle { double pos[3], vel[3]; float mass; int id; float tags[6]; };

static struct particle step(struct particle p, double dt) {
  for (int i = 0; i < 3; i++) p.pos[i] += p.vel[i] * dt;
  p.vel[1] -= 9.81 * dt;
  p.mass *= 0.999f;
  return p;
}

__attribute__((noinline)) static float dotf(const float *a, const float *b, int n) {
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

__attribute__((noinline)) static void saxpy(float *y, const float *x, float a, int n) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

__attribute__((noinline)) static int count_bytes(const unsigned char *s, int n, unsigned char c) {
  int k = 0;
  for (int i = 0; i < n; i++) k += s[i] == c;
  return k;
}

__attribute__((noinline)) static void widen(int *out, const short *in, int n) {
  for (int i = 0; i < n; i++) out[i] = in[i] * 3 - (in[i] >> 2);
}

static double sqrt_newton(double x) {
  double r = x > 1 ? x / 2 : 1;
  for (int i = 0; i < 30; i++) r = 0.5 * (r + x / r);
  return r;
}

float fa[64], fb[64];
short sh[40];
int wide[40];
unsigned char text[200];

int main(void) {
  print("hello from C with SIMD&FP: %s %d %x\n", "varargs", -42, 0xdeadbeefcafeUL);
  for (int i = 0; i < 64; i++) { fa[i] = (float)i * 0.25f - 3.0f; fb[i] = 1.0f / (float)(i + 1); }
  print("dot %f\n", (double)dotf(fa, fb, 64));
  saxpy(fb, fa, 1.5f, 64);
  print("saxpy %f %f %f\n", (double)fb[0], (double)fb[17], (double)fb[63]);
  for (int i = 0; i < 40; i++) sh[i] = (short)(i * 977 - 15000);
  widen(wide, sh, 40);
  print("widen %d %d %d\n", wide[0], wide[20], wide[39]);
  for (int i = 0; i < 200; i++) text[i] = (unsigned char)("the quick brown fox jumps over the lazy dog"[i % 43]);
  print("count o %d, space %d\n", count_bytes(text, 200, 'o'), count_bytes(text, 200, ' '));
  struct particle p = { { 0, 10, 0 }, { 1.5, 2.0, -0.5 }, 2.0f, 7, { 1, 2, 3, 4, 5, 6 } };
  struct particle q[4];
  for (int i = 0; i < 4; i++) { p = step(p, 0.01 * (i + 1)); q[i] = p; }
  struct particle r = q[2];
  print("particle %f %f %f mass %f id %d tag %f\n", r.pos[0], r.pos[1], r.vel[1], (double)r.mass, r.id, (double)r.tags[5]);
  print("sqrt2 %f builtin %f\n", sqrt_newton(2.0), __builtin_sqrt(2.0));
  double acc = 0;
  for (int i = 1; i <= 1000; i++) acc += 1.0 / ((double)i * i);
  print("basel %f int %d\n", acc, (int)(acc * 1e6));
  float fl = 3.4028235e38f;
  print("overflow %f tiny %f\n", (double)(fl * 2.0f), (double)(1e-38f / 1e10f));
  unsigned long fpsr;
  __asm__ volatile("mrs %0, fpsr" : "=r"(fpsr));
  print("fpsr %x\n", fpsr);
  return 0;
}
