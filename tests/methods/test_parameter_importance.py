import math

import pytest
import torch

from pyg_sgg.methods.parameter_importance import ParameterImportance


class Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.context = torch.nn.Module()
        self.context.theta = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
        self.freq_bias = torch.nn.Parameter(torch.tensor([5.0]))  # not covered

    def loss(self):  # L = 0.2 θ0² + 0.3 θ1 (+ the uncovered bias)
        t = self.context.theta
        return 0.2 * t[0] ** 2 + 0.3 * t[1] + self.freq_bias.sum()


def _run(importance, steps=2, lr=0.5):
    model = Toy()
    pi = ParameterImportance(include=["context"], exclude=["freq_bias"], importance=importance)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        model.loss().backward()
        pi.after_backward(model)
        opt.step()
        pi.after_step(model)
    return model, pi


def test_covered_parameters():
    pi = ParameterImportance(include=["context", "freq"], exclude=["freq_bias"])
    assert list(pi.parameters(Toy())) == ["context.theta"]


def test_two_step_accumulation_by_hand():
    model, pi = _run("rwalk")
    # step 1: θ = (1, 2): g = (0.4·1, 0.3) = (0.4, 0.3); F = g² = (0.16, 0.09) (first step)
    #   Δθ = −0.5 g = (−0.2, −0.15); ω = −gΔθ / (FΔθ²) = (0.08 / 0.0064, 0.045 / 0.002025)
    w1 = (0.08 / 0.0064, 0.045 / 0.002025)  # (12.5, 22.22)
    # step 2: θ = (0.8, 1.85): g = (0.32, 0.3); F = 0.5·g² + 0.5·F_prev
    f2 = (0.5 * 0.32 ** 2 + 0.5 * 0.16, 0.5 * 0.09 + 0.5 * 0.09)  # (0.1312, 0.09)
    #   Δθ = (−0.16, −0.15); ω = (0.32·0.16 / (0.1312·0.16²), 0.3·0.15 / (0.09·0.15²))
    w2 = (0.32 * 0.16 / (f2[0] * 0.16 ** 2), 0.3 * 0.15 / (f2[1] * 0.15 ** 2))
    omega = torch.tensor([w1[0] + w2[0], w1[1] + w2[1]])
    assert torch.allclose(pi.fisher["context.theta"], torch.tensor(f2), rtol=1e-5)
    assert torch.allclose(pi.omega["context.theta"], omega, rtol=1e-4)

    # end of stage: F* = sigmoid(log10 F − mean log10 F), Ω* likewise, θ* = θ
    pi.end_stage(model)
    lf = [math.log10(v) for v in f2]
    fs = [1 / (1 + math.exp(-(v - sum(lf) / 2))) for v in lf]
    lo = [math.log10(v) for v in omega.tolist()]
    os_ = [1 / (1 + math.exp(-(v - sum(lo) / 2))) for v in lo]
    assert torch.allclose(pi.fisher_star["context.theta"], torch.tensor(fs), rtol=1e-5)
    assert torch.allclose(pi.omega_star["context.theta"], torch.tensor(os_), rtol=1e-4)
    assert torch.equal(pi.theta_star["context.theta"], model.context.theta.detach())
    assert pi.fisher == {} and pi.omega == {}

    # MR loss: 0 at θ = θ*, then mean((F* + Ω*)(θ* − θ)²) over the 2 covered values
    assert float(pi.loss(model).detach()) == 0.0
    with torch.no_grad():
        model.context.theta += torch.tensor([0.1, -0.2])
    want = ((fs[0] + os_[0]) * 0.01 + (fs[1] + os_[1]) * 0.04) / 2
    assert math.isclose(float(pi.loss(model).detach()), want, rel_tol=1e-5)
    pi.distance = "abs"
    want = ((fs[0] + os_[0]) * 0.1 + (fs[1] + os_[1]) * 0.2) / 2
    assert math.isclose(float(pi.loss(model).detach()), want, rel_tol=1e-5)

    # a second stage averages Ω* with the previous one
    prev = pi.omega_star["context.theta"].clone()
    pi.end_stage(model)  # nothing accumulated: Ω = 0 → all log10 equal → sigmoid(0) = 0.5
    assert torch.allclose(pi.omega_star["context.theta"], 0.5 * (prev + 0.5))


def test_hml_code_sign():
    _, pi = _run("hml_code", steps=1)
    # gΔθ < 0 under SGD: clamped at 1e-15; ω = 2e-15 / (FΔθ²)
    want = torch.tensor([2e-15 / 0.0064, 2e-15 / 0.002025])
    assert torch.allclose(pi.omega["context.theta"], want, rtol=1e-4)


def test_state_round_trip_and_errors():
    model, pi = _run("rwalk")
    pi.end_stage(model)
    other = ParameterImportance(include=["context"])
    other.load_state_dict(pi.state_dict())
    with torch.no_grad():
        model.context.theta += 0.3
    assert torch.equal(other.loss(model), pi.loss(model))
    with pytest.raises(ValueError, match="importance"):
        ParameterImportance(importance="bogus")
    assert ParameterImportance().loss(model) is None


@pytest.mark.parametrize("distance", ["l2", "abs"])
def test_fused_gradient_equals_autograd(distance):
    model, pi = _run("rwalk")
    pi.end_stage(model)
    pi.distance, pi.lam = distance, 0.7
    with torch.no_grad():
        model.context.theta += torch.tensor([0.1, -0.2])
    model.zero_grad()
    ref = pi.loss(model)
    ref.backward()
    want = model.context.theta.grad.clone()
    model.zero_grad()
    value, params, grads, grad_scale = pi.loss_and_grad(model)
    pi.add_grad(params, grads, grad_scale)
    assert torch.allclose(value, ref.detach()) and value.grad_fn is None
    assert torch.allclose(model.context.theta.grad, want)


class TwoTensors(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.context = torch.nn.Module()
        self.context.a = torch.nn.Parameter(torch.zeros(2))
        self.context.b = torch.nn.Parameter(torch.zeros(1))


@pytest.mark.parametrize("normalise", ["global", "per_tensor"])
def test_normalisation_over_all_covered_values_or_per_tensor(normalise):
    model = TwoTensors()
    pi = ParameterImportance(include=["context"], normalise=normalise)
    pi.fisher = {"context.a": torch.tensor([1e-2, 1e-4]), "context.b": torch.tensor([1e-9])}
    pi.omega = {"context.a": torch.tensor([10.0, 1000.0]), "context.b": torch.tensor([1.0])}
    pi.end_stage(model)

    def sig(x):
        return 1 / (1 + math.exp(-x))
    if normalise == "global":  # the authors: one flat vector, mean log10 = (-2 - 4 - 9) / 3
        fa, fb = [sig(-2 + 5), sig(-4 + 5)], [sig(-9 + 5)]
        oa, ob = [sig(1 - 4 / 3), sig(3 - 4 / 3)], [sig(0 - 4 / 3)]
    else:
        fa, fb = [sig(1), sig(-1)], [0.5]
        oa, ob = [sig(-1), sig(1)], [0.5]
    torch.testing.assert_close(pi.fisher_star["context.a"], torch.tensor(fa))
    torch.testing.assert_close(pi.fisher_star["context.b"], torch.tensor(fb))
    torch.testing.assert_close(pi.omega_star["context.a"], torch.tensor(oa))
    torch.testing.assert_close(pi.omega_star["context.b"], torch.tensor(ob))
    with pytest.raises(ValueError, match="normalise"):
        ParameterImportance(normalise="bogus")
