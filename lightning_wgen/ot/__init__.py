"""Semi-discrete optimal transport in latent space (AE-OT)."""

from lightning_wgen.ot.cells import (
    cell_masses,
    cube_frame,
    mass_error,
    mass_error_floor,
    power_cells,
    top_two_cells,
    voronoi_heights,
)
from lightning_wgen.ot.generator import SemiDiscreteMap, cell_centroids, dihedral_angles
from lightning_wgen.ot.semidiscrete import SOLVERS, SemiDiscreteResult, solve_semidiscrete_ot

__all__ = [
    "SOLVERS",
    "SemiDiscreteMap",
    "cell_centroids",
    "dihedral_angles",
    "cube_frame",
    "voronoi_heights",
    "SemiDiscreteResult",
    "cell_masses",
    "mass_error",
    "mass_error_floor",
    "power_cells",
    "top_two_cells",
    "solve_semidiscrete_ot",
]
