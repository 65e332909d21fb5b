#include "linear.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "serialize.h"
#include "hyperparameters.h"

namespace evolve::engines {
namespace {

constexpr char kMagic[] = "EVEN";

double Dot(const double* a, const double* b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

double SoftThreshold(double v, double t) {
  if (v > t) return v - t;
  if (v < -t) return v + t;
  return 0.0;
}

// Solves (A + ridge I) w = b for symmetric positive semi-definite A (p x p,
// row-major) by Cholesky. Returns false if it is not positive definite
// even with the ridge.
bool CholeskySolve(std::vector<double> a, std::vector<double> b, size_t p, double ridge,
                   std::vector<double>* w) {
  for (size_t i = 0; i < p; ++i) a[i * p + i] += ridge;
  for (size_t j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * p + k] * a[j * p + k];
    if (!(d > 0.0)) return false;
    const double l = std::sqrt(d);
    a[j * p + j] = l;
    for (size_t i = j + 1; i < p; ++i) {
      double s = a[i * p + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * p + k] * a[j * p + k];
      a[i * p + j] = s / l;
    }
  }
  // L z = b, then L^T w = z.
  for (size_t i = 0; i < p; ++i) {
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= a[i * p + k] * b[k];
    b[i] = s / a[i * p + i];
  }
  for (size_t i = p; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < p; ++k) s -= a[k * p + i] * b[k];
    b[i] = s / a[i * p + i];
  }
  *w = std::move(b);
  return true;
}

}  // namespace

Status ElasticNetParams::Validate() const {
  if (!(alpha >= 0.0) || !std::isfinite(alpha))
    return InvalidArgumentError("alpha: must be a finite number >= 0");
  if (!(l1_ratio >= 0.0 && l1_ratio <= 1.0)) return InvalidArgumentError("l1_ratio: must be in [0, 1]");
  if (max_iter < 1) return InvalidArgumentError("max_iter: must be >= 1");
  if (!(tol > 0.0) || !std::isfinite(tol)) return InvalidArgumentError("tol: must be a finite number > 0");
  return Status::Ok();
}

Result<ElasticNetParams> ElasticNetParamsFromJson(std::string_view json_object) {
  ElasticNetParams p;
  auto read = [&p](const std::string& key, const rapidjson::Value& v) -> Status {
    if (key == "alpha" || key == "l1_ratio" || key == "tol") {
      double d = 0;
      EVOLVE_RETURN_IF_ERROR(ReadNumberHyperparameter(v, key, "a number", &d));
      if (key == "alpha") {
        if (!(d >= 0.0)) return HyperparameterError(key, "must be >= 0");
        p.alpha = d;
      } else if (key == "l1_ratio") {
        if (!(d >= 0.0 && d <= 1.0)) return HyperparameterError(key, "must be in [0, 1]");
        p.l1_ratio = d;
      } else {
        if (!(d > 0.0)) return HyperparameterError(key, "must be > 0");
        p.tol = d;
      }
    } else if (key == "max_iter") {
      double d = 0;
      EVOLVE_RETURN_IF_ERROR(ReadNumberHyperparameter(v, key, "an integer", &d));
      if (std::floor(d) != d || d < 1 || d > std::numeric_limits<int>::max()) {
        return HyperparameterError(key, "must be an integer >= 1");
      }
      p.max_iter = static_cast<int>(d);
    } else {
      return UnknownHyperparameter(key, "elasticnet_regression");
    }
    return Status::Ok();
  };
  EVOLVE_RETURN_IF_ERROR(ForEachHyperparameter(json_object, read));
  EVOLVE_RETURN_IF_ERROR(p.Validate());
  return p;
}

Result<ElasticNet> ElasticNet::Fit(const Matrix& x, const std::vector<double>& y,
                                   const ElasticNetParams& params) {
  EVOLVE_RETURN_IF_ERROR(params.Validate());
  EVOLVE_RETURN_IF_ERROR(x.Validate());
  if (x.rows == 0 || x.cols == 0) return InvalidArgumentError("elasticnet: no training rows or no features");
  if (y.size() != x.rows) {
    return InvalidArgumentError("elasticnet: " + std::to_string(y.size()) + " targets for " +
                                std::to_string(x.rows) + " rows");
  }
  const size_t n = x.rows;
  const size_t p = x.cols;
  const double dn = static_cast<double>(n);
  ElasticNet m;
  m.params_ = params;
  double y_sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(y[i]))
      return InvalidArgumentError("elasticnet: target " + std::to_string(i) + " is not finite");
    y_sum += y[i];
  }
  m.y_mean_ = y_sum / dn;
  std::vector<double> yc(n);
  for (size_t i = 0; i < n; ++i) yc[i] = y[i] - m.y_mean_;

  // Standardised copy of the features.
  std::vector<double> z(n * p);
  m.means_.assign(p, 0.0);
  m.scales_.assign(p, 0.0);
  for (size_t j = 0; j < p; ++j) {
    const double* col = x.column(j);
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(col[i])) {
        return InvalidArgumentError("elasticnet: feature " + std::to_string(j) + " row " + std::to_string(i) +
                                    " is not finite");
      }
      sum += col[i];
    }
    const double mean = sum / dn;
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) ss += (col[i] - mean) * (col[i] - mean);
    const double sd = std::sqrt(ss / dn);
    m.means_[j] = mean;
    // A feature constant up to rounding carries no signal.
    const bool constant = !(sd > 1e-12 * std::max(1.0, std::fabs(mean)));
    m.scales_[j] = constant ? 0.0 : sd;
    double* zj = z.data() + j * n;
    for (size_t i = 0; i < n; ++i) zj[i] = constant ? 0.0 : (col[i] - mean) / sd;
  }
  m.std_coef_.assign(p, 0.0);
  std::vector<double>& w = m.std_coef_;

  if (params.alpha == 0.0) {
    // Ordinary least squares: (Z^T Z / n) w = Z^T y_c / n.
    std::vector<double> a(p * p, 0.0);
    std::vector<double> b(p, 0.0);
    for (size_t j = 0; j < p; ++j) {
      const double* zj = z.data() + j * n;
      b[j] = Dot(zj, yc.data(), n) / dn;
      for (size_t k = 0; k <= j; ++k) {
        a[j * p + k] = a[k * p + j] = Dot(zj, z.data() + k * n, n) / dn;
      }
    }
    for (size_t j = 0; j < p; ++j) {
      if (m.scales_[j] == 0.0) a[j * p + j] = 1.0;  // w_j = 0 for constant features
    }
    std::vector<double> sol;
    if (!CholeskySolve(a, b, p, 1e-10, &sol)) {
      return InternalError("elasticnet: normal equations are not solvable");
    }
    w = std::move(sol);
    m.iterations_ = 0;
    m.converged_ = true;
    m.DeriveRawCoefficients();
    return m;
  }

  // Coordinate descent in sklearn's scaling: objective times n.
  const double l1 = params.alpha * params.l1_ratio * dn;
  const double l2 = params.alpha * (1.0 - params.l1_ratio) * dn;
  std::vector<double> r = yc;  // residual y_c - Z w
  const double tol = params.tol * Dot(yc.data(), yc.data(), n);
  std::vector<double> norm2(p);
  for (size_t j = 0; j < p; ++j) norm2[j] = Dot(z.data() + j * n, z.data() + j * n, n);
  m.converged_ = false;
  int iter = 0;
  for (; iter < params.max_iter; ++iter) {
    double w_max = 0.0;
    double d_w_max = 0.0;
    for (size_t j = 0; j < p; ++j) {
      if (norm2[j] == 0.0) continue;
      const double* zj = z.data() + j * n;
      const double w_old = w[j];
      const double rho = Dot(zj, r.data(), n) + w_old * norm2[j];
      const double w_new = SoftThreshold(rho, l1) / (norm2[j] + l2);
      if (w_new != w_old) {
        const double d = w_new - w_old;
        for (size_t i = 0; i < n; ++i) r[i] -= d * zj[i];
      }
      w[j] = w_new;
      d_w_max = std::max(d_w_max, std::fabs(w_new - w_old));
      w_max = std::max(w_max, std::fabs(w_new));
    }
    if (w_max == 0.0 || d_w_max / w_max < params.tol || iter == params.max_iter - 1) {
      // Duality gap, as sklearn's enet_coordinate_descent computes it.
      double dual_norm = 0.0;
      for (size_t j = 0; j < p; ++j) {
        const double xta = Dot(z.data() + j * n, r.data(), n) - l2 * w[j];
        dual_norm = std::max(dual_norm, std::fabs(xta));
      }
      const double r_norm2 = Dot(r.data(), r.data(), n);
      const double w_norm2 = Dot(w.data(), w.data(), p);
      double c = 1.0;
      double gap = r_norm2;
      if (dual_norm > l1) {
        c = l1 / dual_norm;
        gap = 0.5 * (r_norm2 + r_norm2 * c * c);
      }
      double l1_norm = 0.0;
      for (double v : w) l1_norm += std::fabs(v);
      gap += l1 * l1_norm - c * Dot(r.data(), yc.data(), n) + 0.5 * l2 * (1.0 + c * c) * w_norm2;
      if (gap < tol) {
        m.converged_ = true;
        ++iter;
        break;
      }
    }
  }
  m.iterations_ = iter;
  m.DeriveRawCoefficients();
  return m;
}

void ElasticNet::DeriveRawCoefficients() {
  const size_t p = std_coef_.size();
  coef_.assign(p, 0.0);
  intercept_ = y_mean_;
  for (size_t j = 0; j < p; ++j) {
    if (scales_[j] == 0.0) continue;
    coef_[j] = std_coef_[j] / scales_[j];
    intercept_ -= coef_[j] * means_[j];
  }
}

double ElasticNet::Predict(const double* row) const {
  double s = intercept_;
  for (size_t j = 0; j < coef_.size(); ++j) s += coef_[j] * row[j];
  return s;
}

Status ElasticNet::PredictBatch(const Matrix& x, std::vector<double>* out) const {
  EVOLVE_RETURN_IF_ERROR(x.Validate());
  if (x.cols != num_features()) {
    return InvalidArgumentError("elasticnet: matrix has " + std::to_string(x.cols) + " features, model has " +
                                std::to_string(num_features()));
  }
  out->assign(x.rows, intercept_);
  for (size_t j = 0; j < x.cols; ++j) {
    const double c = coef_[j];
    const double* col = x.column(j);
    for (size_t i = 0; i < x.rows; ++i) (*out)[i] += c * col[i];
  }
  return Status::Ok();
}

std::vector<double> ElasticNet::CoefficientImportance() const {
  std::vector<double> out(std_coef_.size());
  for (size_t j = 0; j < out.size(); ++j) out[j] = std::fabs(std_coef_[j]);
  return out;
}

Status ElasticNet::Serialize(std::string* out) const {
  BinaryWriter w;
  w.F64(params_.alpha);
  w.F64(params_.l1_ratio);
  w.I32(params_.max_iter);
  w.F64(params_.tol);
  w.F64Vector(means_);
  w.F64Vector(scales_);
  w.F64Vector(std_coef_);
  w.F64(y_mean_);
  w.I32(iterations_);
  w.Bool(converged_);
  *out = WriteEnvelope(std::string_view(kMagic, 4), kFormatVersion, w.bytes());
  return Status::Ok();
}

Result<ElasticNet> ElasticNet::Deserialize(std::string_view bytes) {
  EVOLVE_ASSIGN_OR_RETURN(Envelope env,
                          ReadEnvelope(bytes, std::string_view(kMagic, 4), kFormatVersion, "elasticnet"));
  BinaryReader r(env.payload);
  ElasticNet m;
  Status s = [&]() -> Status {
    EVOLVE_RETURN_IF_ERROR(r.F64(&m.params_.alpha));
    EVOLVE_RETURN_IF_ERROR(r.F64(&m.params_.l1_ratio));
    EVOLVE_RETURN_IF_ERROR(r.I32(&m.params_.max_iter));
    EVOLVE_RETURN_IF_ERROR(r.F64(&m.params_.tol));
    Status ps = m.params_.Validate();
    if (!ps.ok()) return InvalidArgumentError("corrupt: " + ps.message());
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&m.means_));
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&m.scales_));
    EVOLVE_RETURN_IF_ERROR(r.F64Vector(&m.std_coef_));
    EVOLVE_RETURN_IF_ERROR(r.F64(&m.y_mean_));
    EVOLVE_RETURN_IF_ERROR(r.I32(&m.iterations_));
    EVOLVE_RETURN_IF_ERROR(r.Bool(&m.converged_));
    if (m.means_.empty() || m.scales_.size() != m.means_.size() || m.std_coef_.size() != m.means_.size()) {
      return InvalidArgumentError("corrupt: inconsistent feature counts");
    }
    for (double v : m.scales_) {
      if (!(v >= 0.0) || !std::isfinite(v)) return InvalidArgumentError("corrupt: feature scale");
    }
    return r.ExpectEnd();
  }();
  if (!s.ok()) return s.WithContext("elasticnet");
  m.DeriveRawCoefficients();
  return m;
}

}  // namespace evolve::engines
