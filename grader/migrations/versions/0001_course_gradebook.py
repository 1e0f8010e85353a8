"""The course gradebook: students, assignments, runs, submissions, gradings, checks, overrides, score changes

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-30 20:59:01.942902
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the gradebook's tables."""
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('canvas', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('students',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('lms_id', sa.String(length=100), nullable=False),
    sa.Column('sis_id', sa.String(length=100), nullable=False),
    sa.Column('login', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=300), nullable=False),
    sa.Column('section', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Double(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_overrides_student_id'), ['student_id'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('output', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('file', sa.String(length=1000), nullable=False),
    sa.Column('sha256', sa.String(length=100), nullable=False),
    sa.Column('lms_time', sa.DateTime(), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=True),
    sa.Column('counted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('student_id', 'assignment_id', 'file', 'sha256')
    )
    op.create_table('gradings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('max_score', sa.Double(), nullable=False),
    sa.Column('adjustment', sa.Double(), nullable=False),
    sa.Column('penalty_percent', sa.Double(), nullable=False),
    sa.Column('penalty_points', sa.Double(), nullable=False),
    sa.Column('penalty_reason', sa.String(length=500), nullable=False),
    sa.Column('final', sa.Double(), nullable=True),
    sa.Column('graded_at', sa.DateTime(), nullable=False),
    sa.Column('machine', sa.String(length=200), nullable=False),
    sa.Column('grader_version', sa.String(length=50), nullable=False),
    sa.Column('assignment_version', sa.String(length=50), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gradings_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gradings_current'), ['current'], unique=False)
        batch_op.create_index(batch_op.f('ix_gradings_student_id'), ['student_id'], unique=False)

    op.create_table('check_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grading_id', sa.Integer(), nullable=False),
    sa.Column('check_id', sa.String(length=200), nullable=False),
    sa.Column('exercise', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('points', sa.Double(), nullable=False),
    sa.Column('max_points', sa.Double(), nullable=False),
    sa.Column('hidden', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['grading_id'], ['gradings.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_check_results_grading_id'), ['grading_id'], unique=False)

    op.create_table('score_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('grading_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('cause', sa.String(length=20), nullable=False),
    sa.Column('old', sa.Double(), nullable=True),
    sa.Column('new', sa.Double(), nullable=True),
    sa.Column('detail', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignments.id'], ),
    sa.ForeignKeyConstraint(['grading_id'], ['gradings.id'], ),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('score_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_score_changes_student_id'), ['student_id'], unique=False)



def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table('score_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_score_changes_student_id'))

    op.drop_table('score_changes')
    with op.batch_alter_table('check_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_check_results_grading_id'))

    op.drop_table('check_results')
    with op.batch_alter_table('gradings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gradings_student_id'))
        batch_op.drop_index(batch_op.f('ix_gradings_current'))
        batch_op.drop_index(batch_op.f('ix_gradings_assignment_id'))

    op.drop_table('gradings')
    op.drop_table('submissions')
    op.drop_table('runs')
    with op.batch_alter_table('overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_overrides_student_id'))

    op.drop_table('overrides')
    op.drop_table('students')
    op.drop_table('assignments')
