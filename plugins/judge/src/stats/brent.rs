//! Brent's root finder, as R's `zeroin` (`R_zeroin2`) and Kayenta's `BrentSolver` implement it.
//!
//! Kayenta finds the bounds of the confidence interval and the estimate with this exact
//! procedure (absolute tolerance 1e-4, at most 1000 iterations), and the Wilcoxon function it
//! searches is a step function: where the search stops inside a flat region depends on the path
//! the algorithm takes. Following the same steps gives the same points as Kayenta and R, which
//! is why this is a port of the algorithm rather than any root finder.

/// The absolute tolerance of Kayenta's solver (R's `wilcox.test` passes the same `tol = 1e-4`).
pub const TOLERANCE: f64 = 1e-4;
const EPSILON: f64 = f64::EPSILON;
const MAX_ITERATIONS: usize = 1000;

/// Commons Math's `Precision.equals(x, 0)`: zero within one ulp.
fn is_zero(x: f64) -> bool {
    x.abs() <= f64::from_bits(1)
}

/// A zero of `f` in `[ax, bx]`, given `fa = f(ax)` and `fb = f(bx)` of opposite signs (when they
/// are not, the procedure still ends, on one of the ends, as Kayenta's does). `f` may fail; its
/// error is returned.
pub fn solve<E>(ax: f64, bx: f64, fa: f64, fb: f64, mut f: impl FnMut(f64) -> Result<f64, E>) -> Result<f64, E> {
    let (mut a, mut b, mut fa, mut fb) = (ax, bx, fa, fb);
    let (mut c, mut fc) = (a, fa);
    if is_zero(fa) {
        return Ok(a);
    }
    if is_zero(fb) {
        return Ok(b);
    }
    for _ in 0..=MAX_ITERATIONS {
        let prev_step = b - a;
        if fc.abs() < fb.abs() {
            // b is the best approximation so far: swap so that it is.
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol_act = 2.0 * EPSILON * b.abs() + TOLERANCE / 2.0;
        let mut new_step = (c - b) / 2.0;
        if new_step.abs() <= tol_act || is_zero(fb) {
            return Ok(b);
        }
        if prev_step.abs() >= tol_act && fa.abs() > fb.abs() {
            // Interpolation: secant with two points, inverse quadratic with three.
            let cb = c - b;
            let (mut p, mut q);
            if a == c {
                let t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                let q0 = fa / fc;
                let t1 = fb / fc;
                let t2 = fb / fa;
                p = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0));
                q = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if p > 0.0 {
                q = -q;
            } else {
                p = -p;
            }
            if p < (0.75 * cb * q - (tol_act * q).abs() / 2.0) && p < (prev_step * q / 2.0).abs() {
                new_step = p / q;
            }
        }
        if new_step.abs() < tol_act {
            new_step = if new_step > 0.0 { tol_act } else { -tol_act };
        }
        a = b;
        fa = fb;
        b += new_step;
        fb = f(b)?;
        if (fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0) {
            c = a;
            fc = fa;
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
        solve::<()>(a, b, f(a), f(b), |x| Ok(f(x))).unwrap()
    }

    #[test]
    fn finds_a_smooth_root_within_the_tolerance() {
        assert!((root(0.0, 2.0, |x| x * x - 2.0) - 2f64.sqrt()).abs() < TOLERANCE);
        assert!((root(-1.0, 4.0, |x| (x - 3.0).powi(3)) - 3.0).abs() < TOLERANCE);
    }

    #[test]
    fn finds_the_jump_of_a_step_function() {
        let x = root(-10.0, 10.0, |x| if x < 1.2345 { 1.0 } else { -1.0 });
        assert!((x - 1.2345).abs() <= TOLERANCE, "{x}");
    }

    #[test]
    fn a_zero_at_an_end_is_that_end() {
        assert_eq!(root(0.0, 5.0, |x| x), 0.0);
        assert_eq!(root(-5.0, 0.0, |x| x), 0.0);
    }

    #[test]
    fn an_error_of_the_function_is_returned() {
        assert_eq!(solve(0.0, 1.0, -1.0, 1.0, |_| Err("boom")), Err("boom"));
    }
}
